package proc

import (
	"os"
	"os/exec"
	"testing"
)

func TestNameReadsBack(t *testing.T) {
	for _, p := range []Process{
		Self(),
		{Host: "host-a.example", NS: "pid:[4026531836]", PID: 1234},
		{Host: "host-a", PID: 7},
	} {
		got, ok := Parse(p.Name() + " sender 1f2e")
		if !ok || got != p {
			t.Errorf("Parse(%q): got %+v, %v, want %+v", p.Name(), got, ok, p)
		}
	}
	for _, s := range []string{"", "pid x on h ()", "pid 12 on host", "sender pid 12 on h ()"} {
		if p, ok := Parse(s); ok {
			t.Errorf("Parse(%q): got %+v, want none", s, p)
		}
	}
	if got, want := (Process{Host: "h", PID: 9}).String(), "pid 9 on h"; got != want {
		t.Errorf("String: got %q, want %q", got, want)
	}
}

func TestGone(t *testing.T) {
	self := Self()
	if self.NS == "" {
		t.Skip("no /proc/self/ns/pid here: no process is ever known to have ended")
	}
	// A child that has exited and been waited for: its PID is free.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := self
	dead.PID = cmd.ProcessState.Pid()
	for _, tt := range []struct {
		name string
		p    Process
		want bool
	}{
		{"this process", self, false},
		{"an ended child", dead, true},
		{"another host", Process{Host: self.Host + "-other", NS: self.NS, PID: dead.PID}, false},
		{"another namespace", Process{Host: self.Host, NS: "pid:[1]", PID: dead.PID}, false},
		{"namespace unknown", Process{Host: self.Host, PID: dead.PID}, false},
	} {
		if got := tt.p.Gone(); got != tt.want {
			t.Errorf("%s (%s): got gone %v, want %v", tt.name, tt.p.Name(), got, tt.want)
		}
	}
}
