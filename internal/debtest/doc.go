// Package debtest tests the Debian packages of ceo (debian/ at the top
// of the tree). It has only tests:
//
//   - TestShippedConfig (always) parses the example configuration that
//     ceo-common and ceo-daemon install, with the daemon's own parsers,
//     and checks the keys each file sets and documents.
//   - TestShippedConfigLoads (always) loads those files, as shipped and
//     with their commented settings turned on, with the ops' loaders.
//   - TestPackages (as root, not under -short) builds the packages twice
//     with debian/make-deb.sh (the second time as a newer version with
//     changed conffiles), runs lintian on them and systemd-analyze verify
//     on the unit, installs them with dpkg into a clean Debian root made
//     with debootstrap, checks files, modes, conffiles and the installed
//     binaries, upgrades over a local edit, purges, and checks that
//     nothing is left.
//
// The debootstrapped root is cached as a tarball in /var/cache/ceo-debtest
// ($CEO_DEBTEST_CACHE), so only the first run needs the Debian archive
// for it; every run unpacks a fresh copy.
package debtest
