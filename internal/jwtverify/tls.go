package jwtverify

import "crypto/tls"

func newTLSConfig() *tls.Config { return &tls.Config{MinVersion: tls.VersionTLS12} }
