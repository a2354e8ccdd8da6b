package server

import "github.com/csclub/ceo/wire/krb5/gss"

// secContext is an established GSS-API security context: the seam
// between the connection state machine and package wire/krb5/gss, so that the
// state machine can be tested with a fake.
type secContext interface {
	// Wrap seals an outgoing message (conf=1).
	Wrap(msg []byte) ([]byte, error)
	// Unwrap opens an incoming sealed message; any failure is an error.
	Unwrap(tok []byte) ([]byte, error)
	// Peer returns the authenticated client principal, with realm.
	Peer() string
}

// acceptor accepts the client's initial context token and returns the
// established context and the token to send back (which may be empty).
type acceptor interface {
	accept(token []byte) (secContext, []byte, error)
}

// gssAcceptor is the real acceptor.
type gssAcceptor struct{ a *gss.Acceptor }

func (g *gssAcceptor) accept(token []byte) (secContext, []byte, error) {
	ctx, out, err := g.a.Accept(token)
	if err != nil {
		return nil, nil, err
	}
	return ctx, out, nil
}
