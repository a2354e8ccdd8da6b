package adduser

import (
	"context"
	"strings"

	"github.com/csclub/ceo/wire/ceopb"
)

// Subscriber subscribes user to the members list through the mailman op
// of the host that owns it (ceod calls it as its own service principal)
// and returns the op's reply text.
type Subscriber func(ctx context.Context, user string) (string, error)

// SetSubscriber makes the handler subscribe each new member to the
// members list once the account exists, as legacy's New Member did. Call
// it before the handler serves.
func (h *Handler) SetSubscriber(s Subscriber) { h.subscribe = s }

// StatusELIST marks the adduser reply line of a failed subscription. It
// is ours (legacy reported the list's answer in the front end): the
// account exists and works; the subscription can be retried with the
// mailman op.
const StatusELIST int32 = -6

// listOK are the mailman op's answers legacy's New Member took as done.
var listOK = []string{"Subscribed:", "Already a member:", "Disabled:"}

// subscribeList adds the outcome line of the subscription to the reply.
// A failure is reported, never undone: the account stays.
func (c *creation) subscribeList(ctx context.Context) {
	if c.h.subscribe == nil || c.r.typ != ceopb.AddUser_MEMBER {
		return
	}
	reply, err := c.h.subscribe(ctx, c.r.name)
	first, _, _ := strings.Cut(strings.TrimSpace(reply), "\n")
	switch {
	case err != nil:
		c.h.log.Warn("adduser: subscribing to the members list failed", "user", c.r.name, "err", err)
		c.add(StatusELIST, "failed to subscribe %s to the members list: %v (the account is made; retry with: ceoc mailman)", c.r.name, err)
	case hasPrefix(first, listOK):
		c.add(StatusOK, "members list: %s", first)
	default:
		c.add(StatusELIST, "failed to subscribe %s to the members list: %s (the account is made; retry with: ceoc mailman)", c.r.name, first)
	}
	c.mark("mailman")
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
