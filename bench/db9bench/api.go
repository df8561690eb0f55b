package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// apiClient is a minimal REST client for the benchmarks.
type apiClient struct {
	base  string
	token string
	http  *http.Client
	mu    sync.Mutex
	made  map[string]bool // ids of the databases create made
}

// madeIt reports whether create made database id.
func (c *apiClient) madeIt(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.made[id]
}

func newAPIClient(addr string) (*apiClient, error) {
	c := &apiClient{base: "http://" + addr, made: map[string]bool{}, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 5 * time.Minute}}
	var reg struct {
		Token string `json:"token"`
	}
	if err := c.do("POST", "/customer/anonymous-register", nil, 201, &reg); err != nil {
		return nil, err
	}
	c.token = reg.Token
	return c, nil
}

func (c *apiClient) do(method, path string, body any, want int, out any) error {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
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

func (c *apiClient) create(name string) (string, error) {
	var d dbInfo
	err := c.do("POST", "/customer/databases", map[string]string{"name": name}, 201, &d)
	if err == nil {
		c.mu.Lock()
		c.made[d.ID] = true
		c.mu.Unlock()
	}
	return d.ID, err
}

func (c *apiClient) select1(id string) error {
	var res struct {
		Rows  [][]any `json:"rows"`
		Error any     `json:"error"`
	}
	if err := c.do("POST", "/customer/databases/"+id+"/sql", map[string]string{"query": "select 1"}, 200, &res); err != nil {
		return err
	}
	if res.Error != nil || len(res.Rows) != 1 {
		return fmt.Errorf("select 1 on %s: unexpected answer %v", id, res)
	}
	return nil
}
