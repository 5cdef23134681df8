//go:build !unix

package proc

// alive cannot tell here, so every process counts as alive.
func alive(int) bool { return true }
