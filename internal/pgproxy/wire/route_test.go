package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestRoute(t *testing.T) {
	type want struct{ db, role, options string }
	for _, tc := range []struct {
		name, user, options, sni, host string
		want                           want
	}{
		{"user names the database", "abc.admin", "", "", "db9.example.com", want{"abc", "admin", ""}},
		{"user with a dotted role", "abc.app.user", "-c x=1", "", "", want{"abc", "app.user", "-c x=1"}},
		{"endpoint option", "admin", "endpoint=abc", "", "", want{"abc", "admin", ""}},
		{"endpoint option among settings", "admin", `-c search_path=a\ b  endpoint=abc -c work_mem=8MB`, "", "",
			want{"abc", "admin", `-c search_path=a\ b -c work_mem=8MB`}},
		{"--endpoint", "admin", "--endpoint=abc --work_mem=8MB", "", "", want{"abc", "admin", "--work_mem=8MB"}},
		{"Neon's older project=", "admin", "project=abc", "", "", want{"abc", "admin", ""}},
		{"endpoint named twice alike", "admin", "endpoint=abc endpoint=ABC", "", "", want{"ABC", "admin", ""}},
		{"endpoint with a dotted role", "app.user", "endpoint=abc", "", "", want{"abc", "app.user", ""}},
		{"endpoint and the same database in the user", "abc.admin", "endpoint=abc", "", "", want{"abc", "admin", ""}},
		{"endpoint and another prefix in the user", "xyz.admin", "endpoint=abc", "", "", want{"abc", "xyz.admin", ""}},
		{"sni", "admin", "", "abc.db9.example.com", "db9.example.com", want{"abc", "admin", ""}},
		{"sni, any case, trailing dot", "admin", "", "ABC.DB9.example.com.", "db9.example.com", want{"abc", "admin", ""}},
		{"sni and the same database in the user", "abc.admin", "", "abc.db9.example.com", "db9.example.com", want{"abc", "admin", ""}},
		{"sni and endpoint agree", "admin", "endpoint=abc", "abc.db9.example.com", "db9.example.com", want{"abc", "admin", ""}},
		{"sni of the public host itself", "abc.admin", "", "db9.example.com", "db9.example.com", want{"abc", "admin", ""}},
		{"sni of another domain", "abc.admin", "", "abc.other.com", "db9.example.com", want{"abc", "admin", ""}},
		{"sni two labels deep", "abc.admin", "", "x.abc.db9.example.com", "db9.example.com", want{"abc", "admin", ""}},
		{"public host an IP", "abc.admin", "", "abc.127.0.0.1", "127.0.0.1", want{"abc", "admin", ""}},
		{"escaped space is not a separator", "abc.admin", `-c application_name=endpoint\ =x`, "", "", want{"abc", "admin", `-c application_name=endpoint\ =x`}},
	} {
		db, role, opts, err := route(tc.user, tc.options, tc.sni, tc.host)
		if err != nil || (want{db, role, opts}) != tc.want {
			t.Errorf("%s: got %q %q %q %v, want %v", tc.name, db, role, opts, err, tc.want)
		}
	}

	// A plain user with nothing naming the database waits for the password.
	for _, sni := range []string{"", "abc.other.com", "db9.example.com"} {
		db, role, _, err := route("admin", "-c x=1", sni, "db9.example.com")
		if db != "" || role != "admin" || err != nil {
			t.Errorf("plain user, sni %q: %q %q %v, want the password to decide", sni, db, role, err)
		}
	}

	for _, tc := range []struct {
		name, user, options, sni, host string
	}{
		{"no role", "abc.", "", "", ""},
		{"no database", ".admin", "", "", ""},
		{"two endpoints", "admin", "endpoint=abc endpoint=def", "", ""},
		{"endpoint and project differ", "admin", "endpoint=abc project=def", "", ""},
		{"empty endpoint", "admin", "endpoint=", "", ""},
		{"endpoint and sni differ", "admin", "endpoint=abc", "def.db9.example.com", "db9.example.com"},
	} {
		_, _, _, err := route(tc.user, tc.options, tc.sni, tc.host)
		var we *Error
		if !errors.As(err, &we) || we.Code != stateInvalidAuthSpec || !strings.Contains(we.Hint, "endpoint=") {
			t.Errorf("%s: error %v, want 28000 with the routing hint", tc.name, err)
		}
	}
}

// FuzzSplitEndpointOption: the options passed on to the backend are the
// client's words minus the ones that name the database, as PostgreSQL will
// split them.
func FuzzSplitEndpointOption(f *testing.F) {
	for _, s := range []string{"", "endpoint=abc", `-c a=b\ c endpoint=x`, `\`, `a\`, "--endpoint=x\t-c y=z", "project=p  endpoint=p", `endpoint\=x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ep, rest, err := splitEndpointOption(s)
		if err != nil {
			return
		}
		var want []string
		for _, w := range splitOptions(s) {
			l := strings.ToLower(w.text)
			if ep != "" && (strings.HasPrefix(l, "endpoint=") || strings.HasPrefix(l, "--endpoint=") || strings.HasPrefix(l, "project=")) {
				continue
			}
			want = append(want, w.text)
		}
		var got []string
		for _, w := range splitOptions(rest) {
			got = append(got, w.text)
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
			t.Fatalf("options %q: passed on %q (words %q), want words %q", s, rest, got, want)
		}
	})
}

func TestPasswordEndpoint(t *testing.T) {
	for pw, want := range map[string][2]string{
		"endpoint=abc$secret":        {"abc", "secret"},
		"endpoint=abc;secret":        {"abc", "secret"},
		"project=abc$se$cr;et":       {"abc", "se$cr;et"},
		"endpoint=my-db$p=a$s w0rd!": {"my-db", "p=a$s w0rd!"},
	} {
		ep, rest, ok := passwordEndpoint(pw)
		if !ok || ep != want[0] || rest != want[1] {
			t.Errorf("%q: %q %q %v, want %q", pw, ep, rest, ok, want)
		}
	}
	for _, pw := range []string{"secret", "endpoint=abc", "endpoint=$secret", "endpoint=abc$", "Endpoint=abc$x", "xendpoint=abc$x"} {
		if ep, rest, ok := passwordEndpoint(pw); ok {
			t.Errorf("%q split into %q %q", pw, ep, rest)
		}
	}
}
