package metrics

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Family is one metric family guardd exports: its name and type (counter,
// gauge, histogram, summary or untyped).
type Family struct {
	Name, Type string
}

// Series lists the names a query may use for the family: the name, and
// for a histogram or summary its _bucket (histogram), _sum and _count.
func (f Family) Series() []string {
	switch f.Type {
	case "histogram":
		return []string{f.Name, f.Name + "_bucket", f.Name + "_sum", f.Name + "_count"}
	case "summary":
		return []string{f.Name, f.Name + "_sum", f.Name + "_count"}
	}
	return []string{f.Name}
}

// descName reads a descriptor's name, which client_golang shows only in
// its String form.
var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Families lists every metric family m exports, sorted by name: guardd's
// own, whether or not they hold a series yet, and the Go and process
// collectors'. Dashboards and alerting rules are checked against it.
func (m *Metrics) Families() ([]Family, error) {
	byName := make(map[string]string)
	for _, c := range m.own {
		var typ string
		switch c.(type) {
		case *prometheus.GaugeVec, prometheus.Gauge:
			typ = "gauge"
		case *prometheus.CounterVec, prometheus.Counter:
			typ = "counter"
		case *prometheus.HistogramVec, prometheus.Histogram:
			typ = "histogram"
		default:
			return nil, fmt.Errorf("metrics: collector %T of unknown type", c)
		}
		ch := make(chan *prometheus.Desc, 8)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			sub := descName.FindStringSubmatch(d.String())
			if sub == nil {
				return nil, fmt.Errorf("metrics: no name in descriptor %s", d)
			}
			byName[sub[1]] = typ
		}
	}
	// The Go and process collectors always hold series: their types come
	// from what they gather.
	mfs, err := m.reg.Gather()
	if err != nil {
		return nil, err
	}
	for _, mf := range mfs {
		byName[mf.GetName()] = strings.ToLower(mf.GetType().String())
	}
	out := make([]Family, 0, len(byName))
	for name, typ := range byName {
		out = append(out, Family{Name: name, Type: typ})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
