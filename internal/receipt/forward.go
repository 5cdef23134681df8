package receipt

import (
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// forwardMarkerRE finds the line a mail client puts above a forwarded
// message: Gmail "---------- Forwarded message ---------", Thunderbird
// "-------- Forwarded Message --------", Outlook "-----Original Message-----",
// Fastmail "----- Original message -----", Apple Mail "Begin forwarded
// message:". Quoting ("> ") before it is allowed.
var forwardMarkerRE = pattern(`(?im)^[ \t>]*(?:-{2,}[ \t]*(?:forwarded|original)[ \t]+message[ \t]*-{2,}|begin forwarded message:)[ \t]*\r?$`)

var forwardFieldRE = pattern(`(?i)^[ \t>]*(from|date|sent|subject|to|cc|reply-to)[ \t]*:[ \t]*(.*?)[ \t]*$`)

// inlineForward is a message forwarded inline in another's text: the header
// block the client printed, and the text below it.
type inlineForward struct {
	env  envelope
	body string
}

// findForwards returns every inline-forwarded message in text, outermost
// first. A marker not followed by a header block with a From line is not a
// forward (a quoted reply, or prose).
func findForwards(text string) []inlineForward {
	var out []inlineForward
	locs := forwardMarkerRE().FindAllStringIndex(text, 8)
	for _, loc := range locs {
		lines := strings.Split(text[loc[1]:], "\n")
		i := 0
		// Skip the rest of the marker line and up to two blank lines.
		for blanks := 0; i < len(lines) && strings.TrimSpace(strings.TrimLeft(lines[i], "> \t\r")) == "" && blanks < 3; i++ {
			blanks++
		}
		fields := map[string]string{}
		for ; i < len(lines); i++ {
			m := forwardFieldRE().FindStringSubmatch(strings.TrimRight(lines[i], "\r"))
			if m == nil {
				break
			}
			k := strings.ToLower(m[1])
			if _, seen := fields[k]; !seen {
				fields[k] = m[2]
			}
		}
		if fields["from"] == "" {
			continue
		}
		var f inlineForward
		f.env.from = parseLooseAddress(fields["from"])
		f.env.to = parseLooseAddress(fields["to"])
		f.env.subject = oneLine(fields["subject"])
		date := fields["date"]
		if date == "" {
			date = fields["sent"]
		}
		if t, zoned, ok := parseForwardedDate(date); ok {
			f.env.date = t
			f.env.dateSrc = DateForwardedHeader
			if !zoned {
				f.env.dateSrc = DateForwardedNoZone
			}
		}
		if i < len(lines) {
			f.body = strings.Join(lines[i:], "\n")
		}
		out = append(out, f)
	}
	return out
}

// parseForwardedDate reads the Date: (or Sent:) line a mail client prints
// above a forwarded message. Clients print it in the forwarder's locale:
// RFC 5322 (Thunderbird, Fastmail), "Sun, Aug 16, 2026 at 9:10 AM" (Gmail, no
// zone), "August 16, 2026 at 9:10:08 AM GMT+2" (Apple Mail), "Sunday, August
// 16, 2026 9:10 AM" (Outlook, no zone). zoned is false when no zone was
// printed, or only an abbreviation such as "BST" that has no single offset:
// the time is then read as UTC and may be off by the forwarder's offset.
func parseForwardedDate(s string) (t time.Time, zoned, ok bool) {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return time.Time{}, false, false
	}
	if t, err := mail.ParseDate(s); err == nil {
		return t.UTC(), true, true
	}
	// Drop a leading weekday and the word "at".
	if i := strings.Index(s, ", "); i > 0 && isWeekday(s[:i]) {
		s = s[i+2:]
	}
	s = strings.Replace(s, " at ", " ", 1)
	s = strings.ReplaceAll(s, "\u202f", " ") // narrow no-break space before AM/PM
	offset, zoned := 0, false
	if m := trailingZoneRE().FindStringSubmatch(s); m != nil && m[3] != "AM" && m[3] != "PM" {
		s = strings.TrimSpace(s[:len(s)-len(m[0])])
		switch {
		case m[2] != "":
			if off, good := parseOffset(m[2]); good {
				offset, zoned = off, true
			}
		case m[3] == "UTC" || m[3] == "GMT" || m[3] == "Z":
			zoned = true
		}
	}
	for _, layout := range forwardedLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Add(-time.Duration(offset) * time.Second).UTC(), zoned, true
		}
	}
	return time.Time{}, false, false
}

// trailingZoneRE matches a zone at the end of a printed date: "GMT+2",
// "UTC-05:00", "+0200", "CEST".
var trailingZoneRE = pattern(`\s(?:(UTC|GMT|Z)?([+-]\d{1,2}(?::?\d{2})?)|(?:\(?([A-Z]{2,5})\)?))$`)

func parseOffset(s string) (int, bool) {
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	s = strings.ReplaceAll(s[1:], ":", "")
	var h, m int
	var err error
	switch len(s) {
	case 1, 2:
		h, err = strconv.Atoi(s)
	case 3, 4:
		h, err = strconv.Atoi(s[:len(s)-2])
		if err == nil {
			m, err = strconv.Atoi(s[len(s)-2:])
		}
	default:
		return 0, false
	}
	if err != nil || h > 14 || m > 59 {
		return 0, false
	}
	return sign * (h*3600 + m*60), true
}

var forwardedLayouts = []string{
	"Jan 2, 2006 3:04 PM", "Jan 2, 2006 3:04:05 PM", "January 2, 2006 3:04 PM", "January 2, 2006 3:04:05 PM",
	"Jan 2, 2006 15:04", "Jan 2, 2006 15:04:05", "January 2, 2006 15:04", "January 2, 2006 15:04:05",
	"2 Jan 2006 15:04", "2 Jan 2006 15:04:05", "2 January 2006 15:04", "2 January 2006 15:04:05",
	"2 Jan 2006 3:04 PM", "2 January 2006 3:04 PM", "2 January 2006 3:04:05 PM",
	"2006-01-02 15:04", "2006-01-02 15:04:05", "1/2/2006 3:04 PM", "1/2/2006 15:04",
}

func isWeekday(s string) bool {
	switch strings.ToLower(s) {
	case "mon", "tue", "wed", "thu", "fri", "sat", "sun",
		"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday":
		return true
	}
	return false
}

var fwdSubjectRE = pattern(`(?i)^\s*(?:(?:fwd?|fw|tr|wg|vs)\s*:\s*)+`)

// stripForwardPrefix removes "Fwd: ", "FW: " and the like from a subject.
func stripForwardPrefix(s string) string {
	return strings.TrimSpace(fwdSubjectRE().ReplaceAllString(s, ""))
}
