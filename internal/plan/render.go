package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Output formats.
const (
	FormatText     = "text"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
)

// Formats are the values -o takes.
var Formats = []string{FormatText, FormatJSON, FormatMarkdown}

// MarkdownMarker opens the markdown output, so that a CI job can find and
// update its earlier comment on a pull request instead of adding one.
const MarkdownMarker = "<!-- kubectl-posthog-plan -->"

// marks are the text output's first column.
var marks = map[Action]string{
	ActionCreate: "+", ActionAdopt: "<", ActionReplace: "~", ActionUnchanged: "=",
	ActionConflict: "!", ActionDuplicate: "!", ActionInvalid: "!", ActionPrune: "-",
}

// Render writes p in format.
func Render(p Plan, format string) ([]byte, error) {
	var buf bytes.Buffer
	switch format {
	case FormatText, "":
		writeLines(&buf, p)
		buf.WriteString("\n" + p.Summary.String() + "\n")
		for _, note := range p.Notes {
			buf.WriteString("Note: " + note + "\n")
		}
	case FormatMarkdown:
		buf.WriteString(MarkdownMarker + "\n### PostHog plan\n\n**" + p.Summary.String() + "**\n\n")
		if len(p.Lines) > 0 {
			buf.WriteString("```diff\n")
			writeLines(&buf, p)
			buf.WriteString("```\n")
		}
		for _, note := range p.Notes {
			buf.WriteString("\n> " + note + "\n")
		}
		fmt.Fprintf(&buf, "\n<sub>`kubectl posthog plan`: exit code %d (%s)</sub>\n", p.Summary.ExitCode(),
			exitMeaning(p.Summary.ExitCode()))
	case FormatJSON:
		data, err := json.MarshalIndent(struct {
			Plan
			ExitCode int `json:"exitCode"`
		}{p, p.Summary.ExitCode()}, "", "  ")
		if err != nil {
			return nil, err
		}
		buf.Write(append(data, '\n'))
	default:
		return nil, fmt.Errorf("-o %q: want one of %s", format, strings.Join(Formats, ", "))
	}
	return buf.Bytes(), nil
}

func exitMeaning(code int) string {
	switch code {
	case ExitNothing:
		return "nothing to do"
	case ExitChanges:
		return "changes"
	default:
		return "conflicts, duplicates or invalid objects"
	}
}

// writeLines writes one line per plan line: mark, action, subject, id,
// detail.
func writeLines(buf *bytes.Buffer, p Plan) {
	for _, l := range p.Lines {
		action := string(l.Action)
		if l.Unverified {
			action += "?"
		}
		subject := l.Name
		if l.Namespace != "" {
			subject = l.Namespace + "/" + l.Name
		}
		if l.Action == ActionPrune {
			subject = "by " + l.Connection
		}
		id := ""
		if l.ID != "" {
			id = " " + l.ID
		}
		if l.Action == ActionPrune {
			subject, id = strings.TrimSpace(id), " "+subject
		}
		fmt.Fprintf(buf, "%s %-10s %s%s: %s\n", marks[l.Action], action, subject, id, l.Detail)
	}
}

// String is the summary line, e.g. "3 to create, 0 to adopt, 1 to replace,
// 0 to prune, 2 unchanged; 1 conflict, 0 duplicates, 0 invalid".
func (s Summary) String() string {
	replace := fmt.Sprintf("%d to replace", s.Replace)
	if s.Unverified > 0 {
		replace += fmt.Sprintf(" (%d unverified)", s.Unverified)
	}
	prune := fmt.Sprintf("%d to prune", s.Prune)
	if s.PruneDry > 0 {
		prune += fmt.Sprintf(" (%d in DryRun mode)", s.PruneDry)
	}
	return fmt.Sprintf("%d to create, %d to adopt, %s, %s, %d unchanged; %s, %s, %d invalid.",
		s.Create, s.Adopt, replace, prune, s.Unchanged, plural(s.Conflict, "conflict"),
		plural(s.Duplicate, "duplicate"), s.Invalid)
}

func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
