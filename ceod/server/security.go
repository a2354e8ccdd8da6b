package server

import (
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire/krb5/gss"
	"github.com/csclub/ceo/wire/session"
)

// acceptor accepts the client's initial context token and returns the
// established context and the token to send back (which may be empty):
// the seam between the connection state machine and package
// wire/krb5/gss, so that the state machine can be tested with a fake.
type acceptor interface {
	accept(token []byte) (session.Sealer, []byte, error)
}

// gssAcceptor is the real acceptor.
type gssAcceptor struct{ a *gss.Acceptor }

func (g *gssAcceptor) accept(token []byte) (session.Sealer, []byte, error) {
	ctx, out, err := g.a.Accept(token)
	if err != nil {
		return nil, nil, err
	}
	return ctx, out, nil
}

// opDelegation takes the credential the client forwarded in the handshake
// for the op about to run: the first op gets it, later ops on the
// connection get none, so it never outlives one op.
func opDelegation(sess *session.Session) *ops.Delegation {
	g, ok := sess.Security().(*gss.Context)
	if !ok || g.Delegated() == nil {
		return nil
	}
	d := g.Delegated()
	g.ForgetDelegated()
	return ops.NewDelegation(d)
}

// wipeDelegation wipes a credential no op took (the connection ended
// first).
func wipeDelegation(sess *session.Session) {
	if g, ok := sess.Security().(*gss.Context); ok {
		g.ReleaseDelegated()
	}
}

// leanIfBusy makes a connection's context keep no AES key schedules
// while the server holds many connections (the same trade as
// onOwnStack's).
func (s *Server) leanIfBusy(sec session.Sealer) {
	if g, ok := sec.(*gss.Context); ok && s.manyConns() {
		g.Lean()
	}
}
