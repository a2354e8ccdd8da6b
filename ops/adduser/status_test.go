package adduser_test

import "github.com/csclub/ceo/wire/ceopb"

type adduserStatus = ceopb.StatusMessage
