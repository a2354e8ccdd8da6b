package mailman

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Result is what the list server did with a subscription.
type Result int

const (
	Subscribed    Result = iota // now a member
	AlreadyMember               // was a member already; nothing changed
	Pending                     // held for confirmation or moderation
	BadAddress                  // the server refused the address
	NoSuchList                  // the list does not exist
)

// Subscriber subscribes addresses to lists. Client implements it with
// Mailman 3's REST API.
type Subscriber interface {
	Subscribe(ctx context.Context, listID, address string) (Result, error)
}

// ErrUnauthorized means the REST API refused the credentials.
var ErrUnauthorized = errors.New("mailman: REST API authorization failed (check mailman_api_user and mailman_api_password)")

// Client talks to GNU Mailman 3 core's REST API (API version 3.1) with
// HTTP basic authentication.
type Client struct {
	// URL is the REST root, e.g. http://localhost:8001 (mailman_api_url).
	URL string
	// User and Password are the REST admin credentials ([webservice]
	// admin_user and admin_pass in mailman.cfg).
	User, Password string
	// HTTP is the client used; nil means one with a 30-second timeout.
	HTTP *http.Client
}

var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// apiError is the JSON body of a Mailman 3 REST error.
type apiError struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

// Subscribe adds address to the list listID as a member, already
// verified, confirmed and approved (the caller vouches for it, as the
// legacy add_members did), without a welcome message being asked for
// separately: the list's own setting applies.
func (c *Client) Subscribe(ctx context.Context, listID, address string) (Result, error) {
	form := url.Values{
		"list_id":       {listID},
		"subscriber":    {address},
		"pre_verified":  {"true"},
		"pre_confirmed": {"true"},
		"pre_approved":  {"true"},
	}
	endpoint := strings.TrimRight(c.URL, "/") + "/3.1/members"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, errors.New("mailman: mailman_api_url is not a valid URL")
	}
	// For messages: never a password that was put in the URL.
	endpoint = req.URL.Redacted()
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(c.User, c.Password)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, fmt.Errorf("mailman: POST %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var ae apiError
	json.Unmarshal(body, &ae) // best effort: only used to tell 400s apart
	switch {
	case resp.StatusCode == http.StatusCreated:
		return Subscribed, nil
	case resp.StatusCode == http.StatusAccepted:
		return Pending, nil
	case resp.StatusCode == http.StatusConflict:
		return AlreadyMember, nil
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		return 0, ErrUnauthorized
	case resp.StatusCode == http.StatusBadRequest && ae.Description == "No such list",
		resp.StatusCode == http.StatusNotFound:
		return NoSuchList, nil
	case resp.StatusCode == http.StatusBadRequest:
		return BadAddress, nil
	}
	return 0, fmt.Errorf("mailman: POST %s: %s: %q", endpoint, resp.Status, ae.Description)
}
