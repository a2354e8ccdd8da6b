package server

import "fmt"

// ConnState is the state of a client connection. Every connection goes
// StateHandshake -> (StateIdle <-> StateActive)* -> StateClosed; it may
// close from any state.
type ConnState int32

const (
	// StateHandshake: accepted, authenticating. Only MSG_AUTH frames
	// are legal. Ends after HandshakeTimeout.
	StateHandshake ConnState = iota
	// StateIdle: authenticated, waiting for an op frame. Ends after
	// IdleTimeout.
	StateIdle
	// StateActive: an op is running or its reply is being sent.
	StateActive
	// StateClosed: the connection is closed (or being closed by
	// Shutdown); this is the last state.
	StateClosed
)

var stateNames = [...]string{
	StateHandshake: "handshake",
	StateIdle:      "idle",
	StateActive:    "active",
	StateClosed:    "closed",
}

func (st ConnState) String() string {
	if st >= 0 && int(st) < len(stateNames) {
		return stateNames[st]
	}
	return fmt.Sprintf("ConnState(%d)", int(st))
}
