package osrelease

// Compare orders versions as the UAPI version format specification
// does, the order systemd-boot sorts boot entries in: -1 when a is
// older than b, 0 when equal, 1 when newer. Runs of digits compare as
// numbers (v9 < v10), letters after digits, "~" before anything (a
// pre-release: 1.0~rc1 < 1.0), "-" and "." separate.
func Compare(a, b string) int {
	for {
		a, b = skipOther(a), skipOther(b)
		// "~" sorts before everything, even the end.
		if ta, tb := hasPrefix(a, '~'), hasPrefix(b, '~'); ta || tb {
			if !ta {
				return 1
			}
			if !tb {
				return -1
			}
			a, b = a[1:], b[1:]
			continue
		}
		if a == "" || b == "" {
			return cmpInt(len(a), len(b))
		}
		// A separator before a word: the side that has one has more.
		for _, sep := range []byte{'-', '^', '.'} {
			sa, sb := hasPrefix(a, sep), hasPrefix(b, sep)
			if sa != sb {
				if sa {
					return 1
				}
				return -1
			}
			if sa {
				a, b = a[1:], b[1:]
			}
		}
		if a == "" || b == "" {
			return cmpInt(len(a), len(b))
		}
		da, db := isDigit(a[0]), isDigit(b[0])
		if da != db {
			// Digits sort after letters.
			if da {
				return 1
			}
			return -1
		}
		var wa, wb string
		if da {
			wa, a = span(a, isDigit)
			wb, b = span(b, isDigit)
			wa, wb = trimZeros(wa), trimZeros(wb)
			if c := cmpInt(len(wa), len(wb)); c != 0 {
				return c
			}
		} else {
			wa, a = span(a, isLetter)
			wb, b = span(b, isLetter)
		}
		if wa != wb {
			if wa < wb {
				return -1
			}
			return 1
		}
	}
}

func skipOther(s string) string {
	for s != "" && !isDigit(s[0]) && !isLetter(s[0]) && s[0] != '~' && s[0] != '-' && s[0] != '^' && s[0] != '.' {
		s = s[1:]
	}
	return s
}

func hasPrefix(s string, c byte) bool { return s != "" && s[0] == c }
func isDigit(c byte) bool             { return c >= '0' && c <= '9' }
func isLetter(c byte) bool            { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func span(s string, f func(byte) bool) (string, string) {
	i := 0
	for i < len(s) && f(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
