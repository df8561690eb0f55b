package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// APIClient is a minimal REST client for the benchmarks, registered as
// an anonymous customer.
type APIClient struct {
	// Base is the API's URL: http:// and the server's address.
	Base string
	// Token is the customer's bearer token.
	Token string
	// HTTP carries the requests.
	HTTP *http.Client
	mu   sync.Mutex
	made map[string]bool // ids of the databases Create made
}

// madeIt reports whether Create made database id.
func (c *APIClient) madeIt(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.made[id]
}

// NewAPIClient registers an anonymous customer with the API at addr.
func NewAPIClient(addr string) (*APIClient, error) {
	c := &APIClient{Base: "http://" + addr, made: map[string]bool{}, HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 5 * time.Minute}}
	var reg struct {
		Token string `json:"token"`
	}
	if err := c.Do("POST", "/customer/anonymous-register", nil, 201, &reg); err != nil {
		return nil, err
	}
	c.Token = reg.Token
	return c, nil
}

// Do sends body as JSON, expects status want and decodes the answer into
// out (when not nil).
func (c *APIClient) Do(method, path string, body any, want int, out any) error {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.Base+path, r)
	if err != nil {
		return err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d: %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

type dbInfo struct {
	ID string `json:"id"`
}

// Create creates a database named name and returns its id.
func (c *APIClient) Create(name string) (string, error) {
	var d dbInfo
	err := c.Do("POST", "/customer/databases", map[string]string{"name": name}, 201, &d)
	if err == nil {
		c.mu.Lock()
		c.made[d.ID] = true
		c.mu.Unlock()
	}
	return d.ID, err
}

// Select1 runs select 1 on database id through POST .../sql.
func (c *APIClient) Select1(id string) error {
	var res struct {
		Rows  [][]any `json:"rows"`
		Error any     `json:"error"`
	}
	if err := c.Do("POST", "/customer/databases/"+id+"/sql", map[string]string{"query": "select 1"}, 200, &res); err != nil {
		return err
	}
	if res.Error != nil || len(res.Rows) != 1 {
		return fmt.Errorf("select 1 on %s: unexpected answer %v", id, res)
	}
	return nil
}

// SQL runs q on database id through POST .../sql; an SQL error is an error.
func (c *APIClient) SQL(id, q string) error {
	var res struct {
		Error any `json:"error"`
	}
	if err := c.Do("POST", "/customer/databases/"+id+"/sql", map[string]string{"query": q}, 200, &res); err != nil {
		return err
	}
	if res.Error != nil {
		return fmt.Errorf("sql %q: %v", q, res.Error)
	}
	return nil
}
