package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// anonAccount is an anonymous account with its secret.
type anonAccount struct {
	*Client
	ID     string
	Secret string
}

func registerAnon(s *Server) anonAccount {
	c := s.Client()
	var reg struct {
		Token           string `json:"token"`
		AnonymousID     string `json:"anonymous_id"`
		AnonymousSecret string `json:"anonymous_secret"`
	}
	c.MustDo("POST", "/customer/anonymous-register", nil, 201, &reg)
	c.Token = reg.Token
	return anonAccount{Client: c, ID: reg.AnonymousID, Secret: reg.AnonymousSecret}
}

type meJSON struct {
	ID          string  `json:"id"`
	Email       *string `json:"email"`
	IsAnonymous bool    `json:"is_anonymous"`
	Status      string  `json:"status"`
}

func TestClaim_NotConfigured(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	a := s.Anonymous()
	a.MustDo("POST", "/customer/claim", map[string]any{"id_token": "a.b.c"}, 501, nil)
}

func TestClaim_OIDC(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	s := StartServer(t, "--oidc-issuer", iss.URL, "--oidc-audience", testAudience, "--anonymous-db-limit", "1")
	a := registerAnon(s)
	a.CreateDB("first")
	a.MustDo("POST", "/customer/databases", map[string]any{"name": "second"}, 403, nil)

	claim := func(c *Client, token string, want int) []byte {
		t.Helper()
		code, body := c.Do("POST", "/customer/claim", map[string]any{"id_token": token})
		if code != want {
			t.Errorf("claim: %d %s, want %d", code, body, want)
		}
		return body
	}
	// Invalid id_tokens: 401, and the account stays anonymous.
	expired := iss.claims("alice")
	expired["exp"] = time.Now().Add(-10 * time.Minute).Unix()
	wrongAud := iss.claims("alice")
	wrongAud["aud"] = "someone-else"
	wrongIss := iss.claims("alice")
	wrongIss["iss"] = "https://evil.example.com"
	notYet := iss.claims("alice")
	notYet["nbf"] = time.Now().Add(time.Hour).Unix()
	noSub := iss.claims("")
	invalid := map[string]string{
		"expired":          iss.sign(t, "RS256", "rsa1", expired, false),
		"wrong audience":   iss.sign(t, "RS256", "rsa1", wrongAud, false),
		"wrong issuer":     iss.sign(t, "RS256", "rsa1", wrongIss, false),
		"not yet valid":    iss.sign(t, "RS256", "rsa1", notYet, false),
		"no subject":       iss.sign(t, "RS256", "rsa1", noSub, false),
		"unknown kid":      iss.sign(t, "RS256", "rsa-unknown", iss.claims("alice"), true),
		"foreign key":      iss.sign(t, "RS256", "rsa1", iss.claims("alice"), true),
		"EC kid with RS":   iss.sign(t, "RS256", "ec1", iss.claims("alice"), false),
		"alg none":         iss.sign(t, "none", "rsa1", iss.claims("alice"), false),
		"alg HS256":        iss.sign(t, "HS256", "rsa1", iss.claims("alice"), false),
		"not a JWT":        "not-a-jwt",
		"tampered payload": tamper(iss.sign(t, "RS256", "rsa1", iss.claims("alice"), false)),
	}
	for name, tok := range invalid {
		body := claim(a.Client, tok, 401)
		if strings.Contains(string(body), tok) {
			t.Errorf("%s: the answer echoes the id_token", name)
		}
	}
	var me meJSON
	a.MustDo("GET", "/customer/me", nil, 200, &me)
	if !me.IsAnonymous {
		t.Fatalf("account claimed by an invalid id_token")
	}
	a.MustDo("POST", "/customer/claim", map[string]any{}, 400, nil)

	// A scoped token cannot claim.
	scoped := a.as(a.newToken("scoped", scopeOf("rw", "first")).Token)
	claim(scoped, iss.sign(t, "RS256", "rsa1", iss.claims("alice"), false), 403)

	// RS256: claimed; the quota lifts at once.
	good := iss.sign(t, "RS256", "rsa1", iss.claims("alice"), false)
	if err := json.Unmarshal(claim(a.Client, good, 200), &me); err != nil || me.IsAnonymous || me.ID != a.ID || me.Email == nil || *me.Email != "alice@example.com" || me.Status != "active" {
		t.Fatalf("claim answer = %+v (%v)", me, err)
	}
	a.MustDo("GET", "/customer/me", nil, 200, &me)
	if me.IsAnonymous {
		t.Errorf("me after claim is anonymous")
	}
	a.CreateDB("second")
	// Claiming again with the same identity answers the same.
	claim(a.Client, iss.sign(t, "RS256", "rsa1", iss.claims("alice"), false), 200)
	// The anonymous secret no longer refreshes the account.
	a.Client.as("").MustDo("POST", "/customer/anonymous-refresh", map[string]any{"anonymous_id": a.ID, "anonymous_secret": a.Secret}, 401, nil)

	// ES256 works too; the identity is linked to one account only.
	b := registerAnon(s)
	claim(b.Client, iss.sign(t, "ES256", "ec1", iss.claims("bob"), false), 200)
	c := registerAnon(s)
	claim(c.Client, iss.sign(t, "ES256", "ec1", iss.claims("alice"), false), 409)
	claim(c.Client, iss.sign(t, "RS256", "rsa1", iss.claims("bob"), false), 409)
	// An account linked to one identity cannot take another.
	claim(a.Client, iss.sign(t, "ES256", "ec1", iss.claims("carol"), false), 409)
	c.MustDo("GET", "/customer/me", nil, 200, &me)
	if !me.IsAnonymous {
		t.Errorf("account of a refused claim is not anonymous any more")
	}
}

// tamper changes one claim of a signed token without re-signing it.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	parts[1] = parts[1][:len(parts[1])-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(parts[1], "AA")]
	return strings.Join(parts, ".")
}

func TestAdopt(t *testing.T) {
	t.Parallel()
	s := StartServer(t, "--anonymous-db-limit", "3")
	owner := s.Client()
	owner.Token = operatorToken(t, s, "adopter@example.com")
	anon := registerAnon(s)
	x1 := anon.CreateDB("x1")
	x2 := anon.CreateDB("x2")
	anon.MustSQL(x1.ID, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('from-anon')")
	stranger := registerAnon(s)
	foreign := stranger.CreateDB("foreign")
	mine := owner.CreateDB("mine")
	src := map[string]any{"anonymous_customer_id": anon.ID, "anonymous_secret": anon.Secret}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range src {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	// Preflight.
	owner.MustDo("POST", "/customer/adopt-anonymous-databases/preflight", with(map[string]any{"anonymous_secret": "wrong"}), 401, nil)
	var pf struct {
		Eligible  bool
		Databases []struct{ ID, Name string }
		Quota     struct {
			Limit     *int
			Used      int
			Available *int
		}
		Reasons []string
	}
	owner.MustDo("POST", "/customer/adopt-anonymous-databases/preflight", src, 200, &pf)
	if !pf.Eligible || len(pf.Databases) != 2 || pf.Quota.Used != 1 || pf.Quota.Limit != nil || len(pf.Reasons) != 0 {
		t.Errorf("preflight = %+v", pf)
	}

	// Bad requests and refusals move nothing.
	path := "/customer/adopt-anonymous-databases"
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("id%010d", i)
	}
	for _, body := range []map[string]any{
		with(map[string]any{"database_ids": many, "idempotency_key": "k"}),
		with(map[string]any{"database_ids": []string{}, "idempotency_key": "k"}),
		with(map[string]any{"database_ids": []string{x1.ID}}),
		with(map[string]any{"database_ids": x1.ID, "idempotency_key": "k"}),
	} {
		owner.MustDo("POST", path, body, 400, nil)
	}
	owner.MustDo("POST", path, with(map[string]any{"database_ids": []string{x1.ID}, "idempotency_key": "k", "anonymous_secret": "wrong"}), 401, nil)
	for _, other := range []string{foreign.ID, mine.ID, "zzzzzzzzzzzz"} {
		code, body := owner.Do("POST", path, with(map[string]any{"database_ids": []string{x1.ID, other}, "idempotency_key": "k-" + other}))
		if code != 404 {
			t.Errorf("adopt with a database the anonymous account does not own: %d %s, want 404", code, body)
		}
	}
	if got := len(anon.ListDBs(true)); got != 2 {
		t.Fatalf("anonymous account has %d databases after refused adopts, want 2", got)
	}

	// Adopt; a retry with the same key answers the same and moves nothing.
	req := with(map[string]any{"database_ids": []string{x2.ID, x1.ID}, "idempotency_key": "key-1"})
	var first, again struct {
		Adopted        []string `json:"adopted"`
		IdempotencyKey string   `json:"idempotency_key"`
	}
	owner.MustDo("POST", path, req, 200, &first)
	want := []string{x1.ID, x2.ID}
	slices.Sort(want)
	if !slices.Equal(first.Adopted, want) || first.IdempotencyKey != "key-1" {
		t.Fatalf("adopt = %+v, want %v", first, want)
	}
	x3 := anon.CreateDB("x3") // made after the first call: a retry must not take it
	owner.MustDo("POST", path, req, 200, &again)
	if !slices.Equal(again.Adopted, first.Adopted) {
		t.Errorf("retry answered %v, first answer %v", again.Adopted, first.Adopted)
	}
	owner.MustDo("POST", path, with(map[string]any{"database_ids": []string{x3.ID}, "idempotency_key": "key-1"}), 409, nil)
	if l := anon.ListDBs(true); len(l) != 1 || l[0].ID != x3.ID {
		t.Errorf("anonymous account's databases after adopt = %+v, want only x3", l)
	}
	// The moved databases are the owner's now, data included; the anonymous
	// account sees them no more.
	if v := sqlValue(t, owner, "x1", "SELECT v FROM kept"); v != "from-anon" {
		t.Errorf("adopted data = %v", v)
	}
	anon.MustDo("GET", "/customer/databases/"+x1.ID, nil, 404, nil)
	if got := len(owner.ListDBs(false)); got != 3 {
		t.Errorf("owner has %d databases, want 3", got)
	}

	// Concurrent calls with one key: one moves, all answer the same.
	racer := registerAnon(s)
	r1, r2 := racer.CreateDB("r1"), racer.CreateDB("r2")
	raceReq := map[string]any{"anonymous_customer_id": racer.ID, "anonymous_secret": racer.Secret,
		"database_ids": []string{r1.ID, r2.ID}, "idempotency_key": "race"}
	answers := make(chan string, 6)
	for range 6 {
		go func() {
			code, body, err := owner.TryDo("POST", path, raceReq)
			answers <- fmt.Sprintf("%d %s %v", code, strings.TrimSpace(string(body)), err)
		}()
	}
	firstAnswer := <-answers
	if !strings.HasPrefix(firstAnswer, "200 ") {
		t.Errorf("concurrent adopt: %s", firstAnswer)
	}
	for range 5 {
		if a := <-answers; a != firstAnswer {
			t.Errorf("concurrent adopt answers differ: %s vs %s", a, firstAnswer)
		}
	}
	if got := len(owner.ListDBs(false)); got != 5 {
		t.Errorf("owner has %d databases after the race, want 5", got)
	}

	// An anonymous adopter is held to its quota; a name clash is a conflict.
	poor := registerAnon(s)
	poor.CreateDB("p1")
	poor.CreateDB("p2")
	other := registerAnon(s)
	o1 := other.CreateDB("o1")
	o2 := other.CreateDB("o2")
	poor.MustDo("POST", path, map[string]any{"anonymous_customer_id": other.ID, "anonymous_secret": other.Secret,
		"database_ids": []string{o1.ID, o2.ID}, "idempotency_key": "q"}, 403, nil)
	clash := other.CreateDB("mine")
	owner.MustDo("POST", path, map[string]any{"anonymous_customer_id": other.ID, "anonymous_secret": other.Secret,
		"database_ids": []string{clash.ID}, "idempotency_key": "c"}, 409, nil)
}

// operatorToken creates a full customer with the operator command and returns its token.
func operatorToken(t *testing.T, s *Server, email string) string {
	t.Helper()
	out, errOut, code := runDB9(t, "admin", "customer", "create", "--email", email, "--data-dir", s.DataDir, "--json")
	if code != 0 {
		t.Fatalf("admin customer create: exit %d: %s", code, errOut)
	}
	var created struct{ Token string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Token == "" {
		t.Fatalf("admin output %q: %v", out, err)
	}
	return created.Token
}
