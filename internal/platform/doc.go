// Package platform holds db9's domain vocabulary shared by every layer: the
// Error type with its stable Codes, database states and id/name rules. It
// imports nothing internal.
package platform
