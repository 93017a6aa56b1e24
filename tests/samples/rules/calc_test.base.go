package calc

import "testing"

func TestAdd(t *testing.T) {
	if Add(1, 2) != 3 {
		t.Errorf("bad")
	}
}

func TestSub(t *testing.T) {
	if Sub(2, 1) != 1 {
		t.Fatal("bad")
	}
}
