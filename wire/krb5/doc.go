// Package krb turns the usual MIT Kerberos inputs (krb5.conf, a FILE
// credentials cache, a keytab, a password) into gokrb5 v8 clients, working
// around the gokrb5 behaviours that bite on Debian's MIT krb5 1.20:
//
//   - gokrb5 does not read $KRB5_CONFIG; LoadConfig does.
//   - config.Load may return a usable config together with a
//     config.UnsupportedDirective error; LoadConfig tolerates it.
//   - MIT enctype keywords such as DEFAULT or aes are silently dropped by
//     gokrb5, leaving an empty list; LoadConfig reports that instead.
//   - gokrb5's config parser panics on a block opened and closed on one
//     line (R = { kdc = h:88 }); LoadConfig returns an error naming it.
//   - gokrb5 reads ccaches from a plain path (ReadCCache, under MIT's lock); ClientFromCCache strips
//     FILE: and refuses other ccache types.
//
// None of the constructors contacts a KDC: gokrb5 logs in on first use.
// Call Login on the returned client to check credentials up front, and
// Destroy when done to stop its TGT renewal goroutine.
package krb5
