package dataapi

import "testing"

func TestHandler_Read_Smoke(t *testing.T) {
	e := mustOpenEnv(t)
	r := e.do(t, anonP, "GET", "/posts?select=id,title,author:users(name),comments(body)&order=id&limit=2", nil, "")
	t.Logf("%d %v %s", r.status, r.header, r.body)
}
