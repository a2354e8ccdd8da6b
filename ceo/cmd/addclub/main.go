// Command addclub is legacy ceo-clients' addclub: see package
// github.com/csclub/ceo/ceo/scripts and addclub(1).
package main

import "github.com/csclub/ceo/ceo/scripts"

func main() { scripts.AddClub.Main() }
