// Package debtest tests the Debian packages of ceo (debian/ at the top
// of the tree). It has only tests:
//
//   - TestShippedConfig (always) parses the example configuration that
//     ceo-common and ceo-daemon install, with the daemon's own parsers,
//     and checks the keys each file sets and documents.
//   - TestShippedConfigLoads (always) loads those files, as shipped and
//     with their commented settings turned on, with the ops' loaders.
//   - TestManPages (always) checks that ceo(1) describes every console
//     command "ceo --help" lists and that ceod(8) names its flags, exit
//     statuses, /etc/krb5.conf and the install guide.
//   - TestPackages (as root, not under -short) builds the packages twice
//     with debian/make-deb.sh (the second time as a newer version with
//     changed conffiles), runs lintian on them and systemd-analyze verify
//     on the unit, and installs them with apt (so their dependencies come
//     from the archive) into a clean Debian root made with debootstrap.
//     It checks files, modes (library.cf root:office), conffiles and the
//     installed binaries, then follows the install guide
//     (debian/ceo-daemon.README.Debian) step by step against the test
//     realm, running "ceod -check" after each step and expecting it to
//     name what is still missing; it serves, pings and adds a member with
//     "ceo addmember" as a non-root office user; then it upgrades over a
//     local edit, purges, and checks that nothing of the packages is left
//     (the administrator's keytab in /etc/csc stays, as the guide says).
//
// The debootstrapped root is cached as a tarball in /var/cache/ceo-debtest
// ($CEO_DEBTEST_CACHE), so only the first run needs the Debian archive
// for it; every run unpacks a fresh copy.
package debtest
