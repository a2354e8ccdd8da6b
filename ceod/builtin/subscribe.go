package builtin

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/ceoc/opsfile"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/adduser"
	"github.com/csclub/ceo/ops/config"
)

// self is this ceod's service principal without realm: who it is when it
// calls the mailman op for a new member.
func (b *builder) self() string {
	if b.env.Ceod == nil {
		return ""
	}
	p, _, _ := strings.Cut(b.env.Ceod.ServicePrincipal, "@")
	return p
}

// subscriber is how adduser subscribes new members: the mailman op of
// the host that owns it, called as this ceod's service principal, in
// process when that is this host, else through the ceoc relay with the
// service key. No mailman op in the ops files: nil (no subscription).
func (b *builder) subscriber(acc *config.Accounts) (adduser.Subscriber, error) {
	self := b.self()
	if self == "" {
		return nil, nil
	}
	body := func(user string) []byte { return []byte(user + "\n") }
	if slices.Contains(b.names, "mailman") {
		caller := ops.Caller{User: self, Principal: self + "@" + acc.KRB5Realm, Realm: acc.KRB5Realm}
		return func(ctx context.Context, user string) (string, error) {
			h := b.set.Handlers["mailman"] // built after adduser, read once serving
			if h == nil {
				return "", fmt.Errorf("the mailman op is not built")
			}
			rep, err := h.Serve(ctx, ops.Request{Caller: caller, Body: body(user)})
			return string(rep.Body), err
		}, nil
	}
	all, err := opsfile.ReadOps(b.env.ConfigDir)
	if err != nil {
		return nil, err
	}
	if _, ok := opsfile.FindOp(all, "mailman"); !ok {
		return nil, nil
	}
	c := &ceoc.Client{ConfigDir: b.env.ConfigDir, KRB5Config: b.env.KRB5Config,
		Credentials: ceoc.Keytab(self, b.env.Ceod.Keytab)}
	return func(ctx context.Context, user string) (string, error) {
		out, err := c.Call(ctx, "mailman", body(user))
		return string(out), err
	}, nil
}

// trusted are the principals the mailman op lets subscribe anyone:
// mailman_trusted_principals (ceod.cf), in-realm names without the realm,
// and this ceod itself (adduser on this host).
func (b *builder) trusted(acc *config.Accounts) []string {
	var out []string
	for _, p := range acc.MailmanTrusted {
		if name, realm, ok := strings.Cut(p, "@"); ok && (realm == acc.KRB5Realm || acc.KRB5Realm == "") {
			p = name
		}
		out = append(out, p)
	}
	if self := b.self(); self != "" {
		out = append(out, self)
	}
	return out
}
