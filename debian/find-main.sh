#!/bin/sh
# find-main.sh NAME: prints the Go package path (./...) of the command
# NAME, the first of ./NAME/cmd/NAME, ./cmd/NAME, ./NAME and ./ceo/cmd/NAME
# (addmember, addclub) that is a main
# package, and exits 0; exits 1, printing nothing, if there is none.
# Runs from the top of the source tree; $GO is the go command.
set -eu
name=$1
go=${GO:-go}
for p in "./$name/cmd/$name" "./cmd/$name" "./$name" "./ceo/cmd/$name"; do
	[ -d "$p" ] || continue
	if [ "$("$go" list -e -find -f '{{.Name}}' "$p" 2>/dev/null)" = main ]; then
		echo "$p"
		exit 0
	fi
done
exit 1
