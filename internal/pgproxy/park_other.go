//go:build !linux

package pgproxy

import "errors"

// Parking is Linux only (epoll); elsewhere idle clients keep their
// goroutines.
type parker struct{}

func newParker() (*parker, error) { return nil, errors.New("parking needs Linux") }

func (*parker) park(*pooledClient) error   { return errors.New("parking needs Linux") }
func (*parker) closing(*pooledClient) bool { return false }
func (*parker) stop()                      {}
