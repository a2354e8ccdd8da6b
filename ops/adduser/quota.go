package adduser

import (
	"context"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire/ceopb"
)

// quotaPrototype is the user whose quota a new account of type t copies:
// the type's own setting, else quota_prototype; "" sets no quota.
func (h *Handler) quotaPrototype(t ceopb.AddUser_Type) string {
	own := map[ceopb.AddUser_Type]string{
		ceopb.AddUser_MEMBER:   h.cfg.MemberQuotaPrototype,
		ceopb.AddUser_CLUB_REP: h.cfg.ClubRepQuotaPrototype,
		ceopb.AddUser_CLUB:     h.cfg.ClubQuotaPrototype,
	}[t]
	if own != "" {
		return own
	}
	return h.cfg.QuotaPrototype
}

// quota sets the new account's quota. As legacy op-adduser, a setquota
// failure is reported as EQUOTA and the account stays: it works without
// a quota, and syscom can set one later. It returns false only if ctx
// ended first (the caller then rolls back).
func (c *creation) quota(ctx context.Context, uid int) bool {
	proto := c.h.quotaPrototype(c.r.typ)
	if proto == "" {
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	if err := c.h.setQuota(ctx, proto, uid); err != nil {
		c.add(ops.EQUOTA, "failed to set quota: %s", err)
		c.h.log.Warn("adduser: quota not set; the account stays", "user", c.r.name, "uid", uid, "err", err)
		c.mark("quota")
		return true
	}
	c.add(StatusOK, "successfully set quota (copied from %s)", proto)
	c.mark("quota")
	return true
}
