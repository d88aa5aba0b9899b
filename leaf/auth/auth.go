// Package auth authenticates NATS clients (users with plain or bcrypt
// passwords, tokens, nkeys signing the server's nonce) and compiles
// per-user publish/subscribe permissions. It is pure: no sockets, no server
// state, and it never puts a secret in an error or a log.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"

	"github.com/leafgate/leafgate/leaf/subject"
)

// ErrAuthorization is the only error Authenticate returns: clients learn
// nothing about which part of their credentials failed.
var ErrAuthorization = errors.New("authorization violation")

// Defaults for allow_responses, as nats-server applies them.
const (
	DefaultResponseMaxMsgs = 1
	DefaultResponseExpires = 2 * time.Minute
)

// Credentials are what a client presents in CONNECT.
type Credentials struct {
	User, Password, Token, NKey, Sig string
}

// Identity is an authenticated client: its name for logs and monitoring (a
// user name or nkey, never a secret) and its permissions (nil: all allowed).
type Identity struct {
	Name  string
	Perms *Checker
}

// Authenticator checks credentials. It is immutable after New and safe for
// concurrent use.
type Authenticator struct {
	token  string
	users  map[string]*compiledUser // by name
	nkeys  map[string]*compiledUser // by public key
	hasAny bool
	noAuth *Identity // no_auth_user's identity, or nil
}

type compiledUser struct {
	password string
	id       *Identity
}

// New validates cfg and compiles it. Errors name the offending item, e.g.
// "users[2].nkey: invalid user public key".
func New(cfg Config) (*Authenticator, error) {
	a := &Authenticator{users: map[string]*compiledUser{}, nkeys: map[string]*compiledUser{}}
	if cfg.Token != "" && len(cfg.Users) > 0 {
		return nil, errors.New("token: cannot be combined with users")
	}
	a.token = cfg.Token
	for i, u := range cfg.Users {
		perms, err := Compile(u.Permissions)
		if err != nil {
			return nil, fmt.Errorf("users[%d].permissions: %w", i, err)
		}
		switch {
		case u.NKey != "" && (u.Name != "" || u.Password != ""):
			return nil, fmt.Errorf("users[%d]: nkey cannot be combined with user/password", i)
		case u.NKey != "":
			if !nkeys.IsValidPublicUserKey(u.NKey) {
				return nil, fmt.Errorf("users[%d].nkey: invalid user public key", i)
			}
			if a.nkeys[u.NKey] != nil {
				return nil, fmt.Errorf("users[%d].nkey: duplicate nkey %s", i, u.NKey)
			}
			a.nkeys[u.NKey] = &compiledUser{id: &Identity{Name: u.NKey, Perms: perms}}
		case u.Name == "":
			return nil, fmt.Errorf("users[%d].user: missing user name (or nkey)", i)
		case u.Password == "":
			return nil, fmt.Errorf("users[%d].password: missing password for user %q", i, u.Name)
		default:
			if a.users[u.Name] != nil {
				return nil, fmt.Errorf("users[%d].user: duplicate user %q", i, u.Name)
			}
			if isBcrypt(u.Password) {
				if _, err := bcrypt.Cost([]byte(u.Password)); err != nil {
					return nil, fmt.Errorf("users[%d].password: malformed bcrypt hash", i)
				}
			}
			a.users[u.Name] = &compiledUser{password: u.Password, id: &Identity{Name: u.Name, Perms: perms}}
		}
	}
	if a.token != "" && isBcrypt(a.token) {
		if _, err := bcrypt.Cost([]byte(a.token)); err != nil {
			return nil, errors.New("token: malformed bcrypt hash")
		}
	}
	a.hasAny = a.token != "" || len(a.users) > 0 || len(a.nkeys) > 0
	if n := cfg.NoAuthUser; n != "" {
		if len(a.users) == 0 && len(a.nkeys) == 0 {
			return nil, fmt.Errorf("no_auth_user: %q set, but no users are defined", n)
		}
		u := a.users[n]
		if u == nil {
			u = a.nkeys[n]
		}
		if u == nil {
			return nil, fmt.Errorf("no_auth_user: %q is not a user or nkey in users", n)
		}
		a.noAuth = u.id
	}
	return a, nil
}

// Required reports whether clients must authenticate (auth_required in INFO).
func (a *Authenticator) Required() bool { return a.hasAny }

// InfoAuthRequired is auth_required for INFO: false when a no_auth_user
// admits clients without credentials, as nats-server reports it, although
// clients still go through Authenticate.
func (a *Authenticator) InfoAuthRequired() bool { return a.hasAny && a.noAuth == nil }

// NeedsNonce reports whether INFO must carry a nonce for nkey signatures.
func (a *Authenticator) NeedsNonce() bool { return len(a.nkeys) > 0 }

// nonceRawLen is the number of random bytes in a nonce, as nats-server uses.
const nonceRawLen = 11

// NewNonce returns a fresh random nonce, base64 raw-URL encoded.
func NewNonce() string {
	var raw [nonceRawLen]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic("auth: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// Authenticate checks c against the configuration; nonce is the one sent
// to this client in INFO. Any failure is ErrAuthorization.
func (a *Authenticator) Authenticate(c Credentials, nonce string) (*Identity, error) {
	if !a.hasAny {
		return &Identity{}, nil
	}
	if a.noAuth != nil && c.User == "" && c.Password == "" && c.Token == "" && c.NKey == "" {
		return a.noAuth, nil
	}
	if c.NKey != "" && len(a.nkeys) > 0 {
		u := a.nkeys[c.NKey]
		if u == nil || nonce == "" || c.Sig == "" {
			return nil, ErrAuthorization
		}
		sig, err := base64.RawURLEncoding.DecodeString(c.Sig)
		if err != nil {
			// nats-server also accepts standard base64.
			if sig, err = base64.StdEncoding.DecodeString(c.Sig); err != nil {
				return nil, ErrAuthorization
			}
		}
		pub, err := nkeys.FromPublicKey(c.NKey)
		if err != nil || pub.Verify([]byte(nonce), sig) != nil {
			return nil, ErrAuthorization
		}
		return u.id, nil
	}
	if a.token != "" {
		if c.Token == "" || !secretMatches(a.token, c.Token) {
			return nil, ErrAuthorization
		}
		return &Identity{}, nil
	}
	u := a.users[c.User]
	if u == nil || c.User == "" || !secretMatches(u.password, c.Password) {
		// Spend comparable time on unknown users, so timing does not
		// reveal which names exist.
		if u == nil {
			secretMatches("$2a$04$0000000000000000000000000000000000000000000000000000", c.Password)
		}
		return nil, ErrAuthorization
	}
	return u.id, nil
}

func isBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

// secretMatches compares a configured secret (plain or bcrypt) with what
// the client sent, in constant time for plain secrets.
func secretMatches(configured, given string) bool {
	if isBcrypt(configured) {
		return bcrypt.CompareHashAndPassword([]byte(configured), []byte(given)) == nil
	}
	return subtle.ConstantTimeCompare([]byte(configured), []byte(given)) == 1
}

// HashPassword returns a bcrypt hash of plain for use in configuration.
func HashPassword(plain string, cost int) (string, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(plain), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// validPattern is used for permission subjects.
func validPattern(s string) bool { return subject.ValidPattern([]byte(s)) }

// Recheck authenticates an already connected client again after a reload
// from prev to a: credentials whose configured secret is the same in both
// are not verified again (they passed when the client connected, and a
// bcrypt comparison per client would make a reload slow); anything else
// goes through Authenticate. The identity carries a's permissions.
func (a *Authenticator) Recheck(prev *Authenticator, c Credentials, nonce string) (*Identity, error) {
	if prev != nil && a.hasAny {
		switch {
		case c.NKey != "" && len(a.nkeys) > 0:
			if u := a.nkeys[c.NKey]; u != nil && prev.nkeys[c.NKey] != nil {
				return u.id, nil
			}
		case a.token != "":
			if c.Token != "" && prev.token == a.token {
				return &Identity{}, nil
			}
		default:
			u, p := a.users[c.User], prev.users[c.User]
			if u != nil && p != nil && c.User != "" && u.password == p.password {
				return u.id, nil
			}
		}
	}
	return a.Authenticate(c, nonce)
}
