// Package docs holds the project's documentation. Its only Go code is
// this test: every relative link in README.md, docs/ and the run records
// under bench/results must name a file or directory that exists.
package docs

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// link is one link target found in a markdown file, with the line its
// target starts on.
type link struct {
	Line   int
	Target string
}

// extractLinks returns the targets of the inline links and images
// ([text](target), ![alt](target)), of reference definitions
// ([name]: target) and of angle-bracket links (<target>) in a markdown
// document, in order. Text in fenced code blocks and in code spans is
// not markdown and is skipped. An angle-bracket pair counts as a link
// only when its content has no space and looks like a path or a URL
// (a '/', a '.' or a ':' in it): `<program>` and HTML tags are not links.
func extractLinks(src string) []link {
	text := blankCode(src)
	var out []link
	lineAt := func(off int) int { return 1 + strings.Count(text[:off], "\n") }
	// skip maps where a target already taken starts to where it ends, so
	// that the scan below does not read it again as an angle-bracket link.
	skip := map[int]int{}

	for _, m := range refDef.FindAllStringSubmatchIndex(text, -1) {
		out = append(out, link{lineAt(m[2]), unbracket(text[m[2]:m[3]])})
		skip[m[2]] = m[3]
	}

	for i := 0; i < len(text); i++ {
		if end, ok := skip[i]; ok {
			i = end - 1
			continue
		}
		switch text[i] {
		case '\\':
			i++ // an escaped character is literal
		case '[':
			end := closingBracket(text, i)
			if end < 0 || end+1 >= len(text) || text[end+1] != '(' {
				continue
			}
			start, stop, ok := destination(text, end+2)
			if !ok {
				continue
			}
			out = append(out, link{lineAt(start), text[start:stop]})
			if text[start-1] == '<' {
				skip[start-1] = stop + 1 // <target>
			} else {
				skip[start] = stop
			}
			// Go on inside the link text: it may hold an image.
		case '<':
			end := strings.IndexByte(text[i+1:], '>')
			if end < 0 {
				continue
			}
			body := text[i+1 : i+1+end]
			if body == "" || strings.ContainsAny(body, " \t\n<") || htmlTag.MatchString(body) ||
				!strings.ContainsAny(body, "/.:") || email.MatchString(body) {
				continue
			}
			out = append(out, link{lineAt(i + 1), body})
			i += end + 1
		}
	}
	sortByLine(out)
	return out
}

var (
	// refDef is a reference definition: "[name]: target" at the start of
	// a line (up to three spaces of indent).
	refDef = regexp.MustCompile(`(?m)^ {0,3}\[[^\]\n]+\]:[ \t]*(<[^>\n]*>|\S+)`)
	// htmlTag is an opening, closing or self-closing tag with no attributes.
	htmlTag = regexp.MustCompile(`^/?[A-Za-z][A-Za-z0-9-]*/?$`)
	// email is an e-mail autolink (<name@example.com>), not a path.
	email = regexp.MustCompile(`^[^/:@]+@[^/:@]+$`)
	// scheme starts an absolute URL (http:, https:, mailto:, ...).
	scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
)

func unbracket(s string) string {
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		return s[1 : len(s)-1]
	}
	return s
}

// closingBracket returns the index of the ']' that closes the '[' at
// open, allowing nested brackets, or -1 when a blank line (the end of a
// paragraph) or the end of the text comes first.
func closingBracket(text string, open int) int {
	depth := 0
	for j := open; j < len(text); j++ {
		switch text[j] {
		case '\\':
			j++
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return j
			}
		case '\n':
			if strings.HasPrefix(strings.TrimLeft(text[j+1:], " \t"), "\n") {
				return -1
			}
		}
	}
	return -1
}

// destination reads a link destination that starts at i, just after the
// '(': optional spaces, then either <anything but '>'> or a run without
// spaces in which parentheses balance. It returns where the target
// starts and ends (a title and the closing ')' may follow).
func destination(text string, i int) (start, stop int, ok bool) {
	for i < len(text) && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n') {
		i++
	}
	if i >= len(text) {
		return 0, 0, false
	}
	if text[i] == '<' {
		end := strings.IndexAny(text[i+1:], ">\n")
		if end < 0 || text[i+1+end] != '>' {
			return 0, 0, false
		}
		return i + 1, i + 1 + end, true
	}
	start, depth := i, 0
	for ; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\\':
			i++
		case c == '(':
			depth++
		case c == ')' && depth == 0, c == ' ', c == '\t', c == '\n':
			return start, i, i > start // [text]() is an empty link
		case c == ')':
			depth--
		}
	}
	return 0, 0, false
}

// blankCode returns src with the content of fenced code blocks and of
// code spans replaced by spaces (newlines kept, so offsets and line
// numbers stay those of src).
func blankCode(src string) string {
	b := []byte(src)
	blank := func(from, to int) {
		for k := from; k < to; k++ {
			if b[k] != '\n' {
				b[k] = ' '
			}
		}
	}

	// Fenced blocks: a line of three or more ` or ~ (up to three spaces
	// of indent) to a line with a fence of the same character at least as
	// long, or to the end of the document.
	var fence string
	fenceStart := 0
	off := 0
	for _, line := range strings.SplitAfter(src, "\n") {
		trimmed := strings.TrimRight(strings.TrimLeft(line, " "), "\n\r")
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if fence == "" {
			if indent <= 3 && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")) {
				n := len(trimmed) - len(strings.TrimLeft(trimmed, trimmed[:1]))
				fence = trimmed[:n]
				fenceStart = off
			}
		} else if indent <= 3 && strings.HasPrefix(trimmed, fence) &&
			strings.TrimLeft(trimmed, fence[:1]) == "" {
			blank(fenceStart, off+len(line))
			fence = ""
		}
		off += len(line)
	}
	if fence != "" {
		blank(fenceStart, len(b))
	}

	// Code spans: a run of n backticks to the next run of exactly n.
	s := string(b)
	for i := 0; i < len(s); {
		if s[i] != '`' {
			if s[i] == '\\' {
				i++
			}
			i++
			continue
		}
		n := 0
		for i+n < len(s) && s[i+n] == '`' {
			n++
		}
		closeAt := -1
		for j := i + n; j < len(s); {
			if s[j] != '`' {
				j++
				continue
			}
			m := 0
			for j+m < len(s) && s[j+m] == '`' {
				m++
			}
			if m == n {
				closeAt = j
				break
			}
			j += m
		}
		if closeAt < 0 {
			i += n
			continue
		}
		blank(i, closeAt+n)
		i = closeAt + n
	}
	return string(b)
}

// sortByLine orders links by line, keeping the order of those on one
// line (reference definitions were collected first).
func sortByLine(ls []link) {
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && ls[j].Line < ls[j-1].Line; j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
}

// localPath returns the file a link target names, relative to the
// linking file's directory (or to the repository root for a target that
// starts with '/'), or "" when the target is not a local file: a URL
// with a scheme, or only an anchor in the same file.
func localPath(target string) (string, error) {
	if scheme.MatchString(target) || strings.HasPrefix(target, "//") {
		return "", nil
	}
	if i := strings.IndexAny(target, "#?"); i >= 0 {
		target = target[:i]
	}
	if target == "" {
		return "", nil
	}
	return url.PathUnescape(target)
}

func TestExtractLinks(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []link
	}{
		{"none", "plain text, no links\n", nil},
		{"inline", "see [boot](boot.md) and [up](up.md#flags).\n",
			[]link{{1, "boot.md"}, {1, "up.md#flags"}}},
		{"line numbers", "one\n\ntwo [a](a.md)\nthree\n[b](../b/c.json)\n",
			[]link{{3, "a.md"}, {5, "../b/c.json"}}},
		{"image", "![timeline](../bench/results/x/timeline.png)\n",
			[]link{{1, "../bench/results/x/timeline.png"}}},
		{"title", `[a](a.md "the title") [b](<b c.md> 'x')` + "\n",
			[]link{{1, "a.md"}, {1, "b c.md"}}},
		{"text over two lines", "[a long\nname](x/README.md)\n",
			[]link{{2, "x/README.md"}}},
		{"target on the next line", "[name](\nx.md)\n", []link{{2, "x.md"}}},
		{"nested brackets", "[see [1]](one.md)\n", []link{{1, "one.md"}}},
		{"parentheses in target", "[f](a(1).md) done\n", []link{{1, "a(1).md"}}},
		{"link inside parentheses", "(from [r](r/README.md))\n", []link{{1, "r/README.md"}}},
		{"urls kept for the caller", "[go](https://go.dev) <https://x.org/y> [m](mailto:a@b.c)\n",
			[]link{{1, "https://go.dev"}, {1, "https://x.org/y"}, {1, "mailto:a@b.c"}}},
		{"anchor kept for the caller", "[up](#use)\n", []link{{1, "#use"}}},
		{"angle path", "records: <bench/results/faults/>\n", []link{{1, "bench/results/faults/"}}},
		{"angle not a path", "the <program> of <x y/z> and <br/> and </details> <me@example.com>\n", nil},
		{"angle target taken once", "[a](<x/a.md>) [b]: <b.md>\n[c]: <c/d.md>\n", []link{{1, "x/a.md"}, {1, "b.md"}, {2, "c/d.md"}}},
		{"brackets not a link", "[x] is [y] (z.md)\n", nil},
		{"empty target", "[x]() then [y](y.md)\n", []link{{1, "y.md"}}},
		{"escaped", `\[x](x.md) [y](y.md)` + "\n", []link{{1, "y.md"}}},
		{"paragraph ends the text", "[open\n\nnext](n.md)\n", nil},
		{"reference definition", "[a][ref]\n\n[ref]: docs/a.md\n  [r2]: <b.md> \"t\"\n",
			[]link{{3, "docs/a.md"}, {4, "b.md"}}},
		{"code span", "`[a](a.md)` and ``x ` [b](b.md)`` but [c](c.md)\n", []link{{1, "c.md"}}},
		{"code span of <x/y>", "`kios/env/<program>` and `<a/b.md>`\n", nil},
		{"fenced block", "```\n[a](a.md) <x/y.md>\n```\n[b](b.md)\n~~~~go\n[c](c.md)\n~~~\n~~~~\n[d](d.md)\n",
			[]link{{4, "b.md"}, {9, "d.md"}}},
		{"unclosed fence", "[a](a.md)\n```\n[b](b.md)\n", []link{{1, "a.md"}}},
		{"unclosed code span", "a ` b [c](c.md)\n", []link{{1, "c.md"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, extractLinks(tc.src)); diff != "" {
				t.Errorf("extractLinks(%q) (-want +got):\n%s", tc.src, diff)
			}
		})
	}
}

func TestLocalPath(t *testing.T) {
	tests := []struct {
		target, want string
	}{
		{"boot.md", "boot.md"},
		{"up.md#flags", "up.md"},
		{"../bench/results/faults/", "../bench/results/faults/"},
		{"a%20b.md", "a b.md"},
		{"#use", ""},
		{"http://example.com/a.md", ""},
		{"https://example.com/a.md", ""},
		{"mailto:someone@example.com", ""},
		{"//example.com/a", ""},
	}
	for _, tc := range tests {
		got, err := localPath(tc.target)
		if err != nil {
			t.Errorf("localPath(%q): %v", tc.target, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("localPath(%q) (-want +got):\n%s", tc.target, diff)
		}
	}
}

// markdownFiles lists README.md, every .md under docs/ and every .md
// under bench/results, relative to the repository root.
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	files := []string{"README.md"}
	for _, dir := range []string{"docs", filepath.Join("bench", "results")} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".md") {
				rel, err := filepath.Rel(root, p)
				if err != nil {
					return err
				}
				files = append(files, rel)
			}
			return nil
		})
		if err != nil && !(dir != "docs" && errors.Is(err, fs.ErrNotExist)) {
			t.Fatalf("walking %s: %v", dir, err)
		}
	}
	return files
}

func TestLinks(t *testing.T) {
	root := ".." // go test runs in docs/
	files := markdownFiles(t, root)
	checked := 0
	for _, file := range files {
		src, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range extractLinks(string(src)) {
			p, err := localPath(l.Target)
			if err != nil {
				t.Errorf("%s:%d: bad link target %q: %v", file, l.Line, l.Target, err)
				continue
			}
			if p == "" {
				continue
			}
			var resolved string
			if strings.HasPrefix(p, "/") {
				resolved = filepath.Join(root, filepath.FromSlash(p))
			} else {
				resolved = filepath.Join(root, filepath.Dir(file), filepath.FromSlash(p))
			}
			checked++
			if _, err := os.Stat(resolved); err != nil {
				if rel, err := filepath.Rel(root, resolved); err == nil {
					resolved = rel
				}
				t.Errorf("%s:%d: link target %q does not exist (no %s in the repository)", file, l.Line, l.Target, filepath.ToSlash(resolved))
			}
		}
	}
	if checked == 0 {
		t.Errorf("no relative links found in %d files: is the walk broken?", len(files))
	}
}
