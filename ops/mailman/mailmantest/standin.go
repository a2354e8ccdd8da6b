// Package mailmantest provides list servers for tests of the mailman op:
// StandIn, an in-process stand-in for the members part of GNU Mailman
// 3's REST API (same paths, JSON shapes and status codes as Mailman
// 3.3.8, checked against it), and Mailman3, a real Mailman 3 core REST
// runner started from Debian's mailman3 package when it is installed.
package mailmantest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
)

// StandIn is an httptest server implementing:
//
//	POST /3.1/members                     (list_id, subscriber, pre_verified, pre_confirmed, pre_approved)
//	GET  /3.1/lists/{list_id}/roster/member
//
// with HTTP basic authentication, like Mailman 3's REST runner.
type StandIn struct {
	*httptest.Server
	User, Password string

	mu       sync.Mutex
	lists    map[string][]string // list id -> member addresses, in order
	requests int
	// Fail, if non-zero, is the status every request gets (e.g. 500).
	Fail int
	// Hold makes every new subscription wait for moderation (202), as a
	// list whose policy ignores pre_approved would.
	Hold bool
}

// NewStandIn starts a stand-in with the given lists (list ids) and
// registers its shutdown with t.Cleanup.
func NewStandIn(t testing.TB, user, password string, listIDs ...string) *StandIn {
	s := &StandIn{User: user, Password: password, lists: map[string][]string{}}
	for _, l := range listIDs {
		s.lists[l] = nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /3.1/members", s.postMember)
	mux.HandleFunc("GET /3.1/lists/{list}/roster/member", s.roster)
	s.Server = httptest.NewServer(s.auth(mux))
	t.Cleanup(s.Close)
	return s
}

// Requests counts the requests that passed authentication.
func (s *StandIn) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, description string) {
	writeJSON(w, status, map[string]string{
		"title":       fmt.Sprintf("%d %s", status, http.StatusText(status)),
		"description": description,
	})
}

func (s *StandIn) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(s.User)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(s.Password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="mailman3-rest",charset="utf-8"`)
			apiError(w, http.StatusUnauthorized, "REST API authorization failed")
			return
		}
		s.mu.Lock()
		s.requests++
		fail := s.Fail
		s.mu.Unlock()
		if fail != 0 {
			apiError(w, fail, "injected failure")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// asBoolean is Mailman's as_boolean validator.
func asBoolean(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true", "yes", "1", "on":
		return true, true
	case "false", "no", "0", "off":
		return false, true
	}
	return false, false
}

func (s *StandIn) postMember(w http.ResponseWriter, r *http.Request) {
	fields := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			apiError(w, http.StatusBadRequest, "Invalid JSON")
			return
		}
		for k, v := range m {
			fields[k] = fmt.Sprint(v)
		}
	default:
		if err := r.ParseForm(); err != nil {
			apiError(w, http.StatusBadRequest, "Invalid form")
			return
		}
		for k := range r.PostForm {
			fields[k] = r.PostForm.Get(k)
		}
	}
	for k := range fields {
		switch k {
		case "list_id", "subscriber", "display_name", "delivery_mode", "role",
			"pre_verified", "pre_confirmed", "pre_approved", "invitation", "send_welcome_message":
		default:
			apiError(w, http.StatusBadRequest, "Unexpected parameters: "+k)
			return
		}
	}
	if fields["list_id"] == "" || fields["subscriber"] == "" {
		apiError(w, http.StatusBadRequest, "Missing parameters: list_id, subscriber")
		return
	}
	pre := true
	for _, k := range []string{"pre_verified", "pre_confirmed", "pre_approved"} {
		v, present := fields[k]
		b, ok := asBoolean(v)
		if present && !ok {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("Invalid Parameter %q: %s.", k, v))
			return
		}
		pre = pre && present && b
	}
	addr, err := mail.ParseAddress(fields["subscriber"])
	if err != nil || addr.Address != fields["subscriber"] {
		apiError(w, http.StatusBadRequest, `Invalid Parameter "subscriber": .`)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	members, ok := s.lists[fields["list_id"]]
	if !ok {
		apiError(w, http.StatusBadRequest, "No such list")
		return
	}
	if slices.Contains(members, addr.Address) {
		apiError(w, http.StatusConflict, "Member already subscribed")
		return
	}
	if !pre || s.Hold {
		// Mailman holds the subscription for confirmation or approval.
		var tok [20]byte
		rand.Read(tok[:])
		writeJSON(w, http.StatusAccepted, map[string]string{"token": hex.EncodeToString(tok[:]), "token_owner": "subscriber"})
		return
	}
	s.lists[fields["list_id"]] = append(members, addr.Address)
	var id [16]byte
	rand.Read(id[:])
	w.Header().Set("Location", s.URL+"/3.1/members/"+hex.EncodeToString(id[:]))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
}

func (s *StandIn) roster(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	members, ok := s.lists[r.PathValue("list")]
	members = slices.Clone(members)
	s.mu.Unlock()
	if !ok {
		apiError(w, http.StatusNotFound, "404 Not Found")
		return
	}
	entries := []map[string]any{}
	for _, m := range members {
		entries = append(entries, map[string]any{"email": m, "list_id": r.PathValue("list"), "role": "member"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"start": 0, "total_size": len(entries), "entries": entries})
}
