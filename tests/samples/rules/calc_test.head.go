package calc

import "testing"

func TestAdd(t *testing.T) {
	t.Skip("later")
	if Add(1, 2) != 3 {
		t.Errorf("bad")
	}
}
