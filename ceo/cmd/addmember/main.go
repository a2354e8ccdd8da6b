// Command addmember is legacy ceo-clients' addmember: see package
// github.com/csclub/ceo/ceo/scripts and addmember(1).
package main

import "github.com/csclub/ceo/ceo/scripts"

func main() { scripts.AddMember.Main() }
