package pollertest

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// daysPage lists the UTC days of one page of daily buckets: from start's
// day up to bound (exclusive, the day holding bound included), limit days
// per page, continuing after the day in page. It returns the next page's
// cursor, or "" on the last page.
func daysPage(start, bound time.Time, limit int, page string) (days []time.Time, next string, err error) {
	from := day(start)
	if page != "" {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(page, "page_"))
		if err != nil {
			return nil, "", fmt.Errorf("invalid page cursor")
		}
		unix, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, "", fmt.Errorf("invalid page cursor")
		}
		from = time.Unix(unix, 0).UTC()
	}
	d := from
	for ; d.Before(bound) && len(days) < limit; d = d.Add(24 * time.Hour) {
		days = append(days, d)
	}
	if d.Before(bound) {
		next = "page_" + base64.StdEncoding.EncodeToString([]byte(strconv.FormatInt(d.Unix(), 10)))
	}
	return days, next, nil
}

// limitParam reads the limit query parameter: def when absent, an error
// outside [1, max].
func limitParam(v string, def, max int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("limit must be an integer between 1 and %d", max)
	}
	return n, nil
}
