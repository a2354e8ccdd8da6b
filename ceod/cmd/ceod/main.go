// Command ceod is the ceo daemon: it authenticates clients with
// Kerberos and runs the ops this host owns. See package
// github.com/csclub/ceo/ceod/daemon for flags and configuration.
package main

import (
	"os"

	"github.com/csclub/ceo/ceod/daemon"
)

func main() { os.Exit(daemon.Main()) }
