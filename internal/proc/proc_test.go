package proc_test

import (
	"testing"

	"github.com/guardd/guardd/internal/proc"
	"github.com/guardd/guardd/internal/proc/proctest"
)

func TestNameReadsBack(t *testing.T) {
	for _, p := range []proc.Process{
		proc.Self(),
		{Host: "host-a.example", NS: "pid:[4026531836]", PID: 1234},
		{Host: "host-a", PID: 7},
	} {
		got, ok := proc.Parse(p.Name() + " sender 1f2e")
		if !ok || got != p {
			t.Errorf("Parse(%q): got %+v, %v, want %+v", p.Name(), got, ok, p)
		}
	}
	for _, s := range []string{"", "pid x on h ()", "pid 12 on host", "sender pid 12 on h ()"} {
		if p, ok := proc.Parse(s); ok {
			t.Errorf("Parse(%q): got %+v, want none", s, p)
		}
	}
	if got, want := (proc.Process{Host: "h", PID: 9}).String(), "pid 9 on h"; got != want {
		t.Errorf("String: got %q, want %q", got, want)
	}
}

func TestGone(t *testing.T) {
	dead := proctest.Ended(t)
	self := proc.Self()
	for _, tt := range []struct {
		name string
		p    proc.Process
		want bool
	}{
		{"this process", self, false},
		{"an ended child", dead, true},
		{"another host", proc.Process{Host: self.Host + "-other", NS: self.NS, PID: dead.PID}, false},
		{"another namespace", proc.Process{Host: self.Host, NS: "pid:[1]", PID: dead.PID}, false},
		{"namespace unknown", proc.Process{Host: self.Host, PID: dead.PID}, false},
	} {
		if got := tt.p.Gone(); got != tt.want {
			t.Errorf("%s (%s): got gone %v, want %v", tt.name, tt.p.Name(), got, tt.want)
		}
	}
}
