package auth

import "time"

// Config is the authentication configuration of a client listener. The zero
// value means no authentication: every client is admitted with full
// permissions.
//
// At most one of Token and Users may be set; nkey users and password users
// can be mixed inside Users.
type Config struct {
	// Token, when set, must be sent by clients as auth_token in CONNECT.
	// A value starting with "$2a$", "$2b$" or "$2y$" is a bcrypt hash.
	Token string
	// Users are the named or nkey users allowed to connect.
	Users []User
	// NoAuthUser names a user (or nkey) in Users whose identity and
	// permissions a client gets when its CONNECT carries no credentials at
	// all (nats-server's no_auth_user). Clients that send credentials are
	// checked as usual. It requires Users.
	NoAuthUser string
}

// User is one credential: either Name with Password, or NKey (a user public
// key starting with 'U'), never both.
type User struct {
	Name string
	// Password is plain text, or a bcrypt hash ("$2a$...") compared with bcrypt.
	Password string
	// NKey is the user's public nkey; the client proves possession by signing
	// the INFO nonce.
	NKey string
	// Permissions restricts what the user may publish and subscribe to; nil
	// means everything is allowed.
	Permissions *Permissions
}

// Permissions mirror nats-server's authorization permissions block.
type Permissions struct {
	Publish   *SubjectPermission
	Subscribe *SubjectPermission
	// Responses, when non-nil, lets the user publish to reply subjects of
	// requests it received even if Publish does not allow them.
	Responses *ResponsePermission
}

// SubjectPermission is an allow list and a deny list of subjects, wildcards
// allowed. An empty Allow list means "everything not denied".
type SubjectPermission struct {
	Allow []string
	Deny  []string
}

// ResponsePermission is nats-server's allow_responses: each received reply
// subject may be published to at most MaxMsgs times within Expires.
// Zero values mean the defaults, 1 message within 2 minutes.
type ResponsePermission struct {
	MaxMsgs int
	Expires time.Duration
}
