package auth

import "testing"

func TestRecheck(t *testing.T) {
	hash, err := HashPassword("pw", 4)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(c Config) *Authenticator {
		a, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	perms := &Permissions{Publish: &SubjectPermission{Allow: []string{"a"}}}
	prev := mk(Config{Users: []User{{Name: "u", Password: hash}, {Name: "gone", Password: "x"}}})
	tests := []struct {
		name  string
		next  *Authenticator
		creds Credentials
		ok    bool
	}{
		{"same hash, new perms", mk(Config{Users: []User{{Name: "u", Password: hash, Permissions: perms}}}), Credentials{User: "u", Password: "pw"}, true},
		{"user removed", mk(Config{Users: []User{{Name: "u", Password: hash}}}), Credentials{User: "gone", Password: "x"}, false},
		{"password changed, still matches", mk(Config{Users: []User{{Name: "u", Password: "pw"}}}), Credentials{User: "u", Password: "pw"}, true},
		{"password changed", mk(Config{Users: []User{{Name: "u", Password: "other"}}}), Credentials{User: "u", Password: "pw"}, false},
		{"auth removed", mk(Config{}), Credentials{User: "u", Password: "pw"}, true},
		{"token instead of users", mk(Config{Token: "t"}), Credentials{User: "u", Password: "pw"}, false},
	}
	for _, tt := range tests {
		id, err := tt.next.Recheck(prev, tt.creds, "")
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v, want ok=%v", tt.name, err, tt.ok)
		}
		if tt.name == "same hash, new perms" && (id == nil || id.Perms == nil || id.Perms.CanPublish("b")) {
			t.Errorf("%s: the identity lacks the new permissions", tt.name)
		}
	}
}
