// Package readme keeps the README's reason tables, the alert rules and the
// GitOps notes in step with the condition reasons the code really sets. It
// reads the Go source (go/parser) rather than importing the packages, because
// internal/controller's stallingReasons and classification are unexported.
package readme

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const (
	root          = "../.."
	readmeFile    = root + "/README.md"
	gitopsFile    = root + "/docs/gitops.md"
	conditionsGo  = root + "/api/v1alpha1/conditions.go"
	statusGo      = root + "/internal/controller/status.go"
	classifyGo    = root + "/internal/controller/classification.go"
	rulesFile     = root + "/dist/chart/files/prometheus/rules.yaml"
	apiDir        = root + "/api/v1alpha1"
	referenceKind = "RoleExternalReference"
	connKind      = "PostHogConnection"
	clusterKind   = "ClusterPostHogConnection"
	// The troubleshooting table's kind column also takes "connections"
	// (both connection kinds) and "all" (every kind).
	connectionKinds = "connections"
	allKinds        = "all"
)

// syncedOnly are reasons of the Synced condition only, never of Ready: the
// README's condition table documents them, the troubleshooting table does not.
var syncedOnly = []string{"ReconcileSuccess"}

// TestTroubleshootingTableHasEveryReadyReason: every Ready reason the code
// sets has a row, on the kind that gets it; every row is a reason the API
// has; and the rows marked (Stalled) are exactly the stalling reasons.
func TestTroubleshootingTableHasEveryReadyReason(t *testing.T) {
	reasons := reasonConstants(t)
	stalling := stallingReasons(t, reasons)
	rows := troubleshootingRows(t)

	documented := map[string]bool{} // reason
	onKind := map[string]bool{}     // kind + "/" + reason
	for _, row := range rows {
		documented[row.reason] = true
		for _, kind := range row.kinds() {
			if onKind[kind+"/"+row.reason] {
				t.Errorf("the troubleshooting table has two rows for %s %s", kind, row.reason)
			}
			onKind[kind+"/"+row.reason] = true
		}
		if !slices.Contains(slices.Collect(maps.Values(reasons)), row.reason) {
			t.Errorf("the troubleshooting table has a row for %q, which is no Reason constant in %s", row.reason,
				conditionsGo)
		}
		if row.stalled != stalling[row.reason] {
			t.Errorf("the troubleshooting table marks %s %s (Stalled) = %v, but stallingReasons in %s says %v",
				row.kind, row.reason, row.stalled, statusGo, stalling[row.reason])
		}
	}

	for _, reason := range usedReasons(t, reasons) {
		if slices.Contains(syncedOnly, reason) {
			continue
		}
		if !documented[reason] {
			t.Errorf("the code sets the Ready reason %q, which the README's troubleshooting table lacks", reason)
		}
	}
	checkClassifiedReasonsHaveRows(t, reasons, onKind)
	for _, reason := range syncedOnly {
		if !slices.Contains(slices.Collect(maps.Values(reasons)), reason) {
			t.Errorf("syncedOnly names %q, which is no Reason constant any more", reason)
		}
		if !strings.Contains(readFile(t, readmeFile), "`"+reason+"`") {
			t.Errorf("the README does not mention the Synced reason %q", reason)
		}
	}
}

// checkClassifiedReasonsHaveRows: every reason classification gives a kind
// has a troubleshooting row for that kind (onKind: kind + "/" + reason).
// A connection's verdicts are both connection kinds'.
func checkClassifiedReasonsHaveRows(t *testing.T, reasons map[string]string, onKind map[string]bool) {
	t.Helper()
	for kind, kindReasons := range classifiedReasons(t, reasons) {
		kinds := []string{kind}
		if kind == connKind {
			kinds = append(kinds, clusterKind)
		}
		for _, reason := range kindReasons {
			for _, kind := range kinds {
				if !onKind[kind+"/"+reason] {
					t.Errorf("%s gives a %s the Ready reason %q, which the troubleshooting table has no %s row for",
						classifyGo, kind, reason, kind)
				}
			}
		}
	}
}

// TestStalledListsMatchStallingReasons: the stalled alert's row of the
// alerts table, the Stalled row of the conditions table, docs/gitops.md and
// rules.yaml's stalled regexes name exactly the stalling reasons.
func TestStalledListsMatchStallingReasons(t *testing.T) {
	reasons := reasonConstants(t)
	stalling := sortedKeys(stallingReasons(t, reasons))
	readme := readFile(t, readmeFile)

	alert := tableRow(t, readme, "### Alerts and dashboard", "`PostHogOperatorObjectsStalled`")
	checkSameReasons(t, "the README's PostHogOperatorObjectsStalled row", codeSpans(alert[1]), stalling, reasons)

	condition := tableRow(t, readme, "### Status for GitOps tools", "`Stalled`")
	checkSameReasons(t, "the README's Stalled condition row", codeSpans(condition[1]), stalling, reasons)

	gitops := tableRow(t, readFile(t, gitopsFile), "", "is `Stalled=True`")
	checkSameReasons(t, "docs/gitops.md's Stalled=True row", codeSpans(gitops[0]), stalling, reasons)

	rules := alertRules(t)
	stalledByKind, sharing := reasonMatchers(t, rules["PostHogOperatorObjectsStalled"], "=~")
	var union []string
	for _, kindReasons := range stalledByKind {
		union = append(union, kindReasons...)
	}
	checkSameReasons(t, rulesFile+"'s PostHogOperatorObjectsStalled", union, stalling, reasons)

	// Per kind: the rules' stalled reasons are the table's Stalled rows of
	// that kind (of the kinds one selector shares, such as both connection
	// kinds: the union of theirs), and the not-Ready alerts leave out
	// exactly those.
	rows := troubleshootingRows(t)
	for _, kind := range []string{referenceKind, connKind, clusterKind} {
		var want []string
		for _, row := range rows {
			if !row.stalled || slices.Contains(want, row.reason) {
				continue
			}
			shared := sharing[kind]
			if shared == nil {
				shared = []string{kind}
			}
			for _, k := range shared {
				if slices.Contains(row.kinds(), k) {
					want = append(want, row.reason)
					break
				}
			}
		}
		checkSameReasons(t, rulesFile+"'s PostHogOperatorObjectsStalled for "+kind, stalledByKind[kind], want, reasons)
	}
	notReady := map[string]string{
		referenceKind: "PostHogOperatorMappingsNotReady",
		connKind:      "PostHogOperatorConnectionNotReady",
		clusterKind:   "PostHogOperatorConnectionNotReady",
	}
	for kind, alertName := range notReady {
		excluded, _ := reasonMatchers(t, rules[alertName], "!~")
		checkSameReasons(t, rulesFile+"'s "+alertName+" for "+kind+" (the reasons it leaves to the stalled alert)",
			excluded[kind], stalledByKind[kind], reasons)
	}
}

// TestShortNamesAndCategoryAreDocumented: the README tells how to type the
// kinds: their short names and their category.
func TestShortNamesAndCategoryAreDocumented(t *testing.T) {
	marker := regexp.MustCompile(`\+kubebuilder:resource:(\S+)`)
	readme := readFile(t, readmeFile)
	files, err := filepath.Glob(filepath.Join(apiDir, "*_types.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no *_types.go in %s (%v)", apiDir, err)
	}
	found := 0
	for _, file := range files {
		for _, m := range marker.FindAllStringSubmatch(readFile(t, file), -1) {
			for field := range strings.SplitSeq(m[1], ",") {
				key, value, _ := strings.Cut(field, "=")
				switch key {
				case "shortName":
					found++
					if !strings.Contains(readme, "`"+value+"`") {
						t.Errorf("the README does not name the short name `%s` (%s)", value, file)
					}
				case "categories":
					found++
					if !strings.Contains(readme, "kubectl -n platform get "+value+" ") &&
						!strings.Contains(readme, "kubectl get "+value+" ") {
						t.Errorf("the README does not show `kubectl get %s` (the category in %s)", value, file)
					}
				}
			}
		}
	}
	if found == 0 {
		t.Fatalf("no shortName or categories in the +kubebuilder:resource markers of %s", apiDir)
	}
}

// --- the code -----------------------------------------------------------------

// reasonConstants maps each Reason* constant of api/v1alpha1 to its value.
func reasonConstants(t *testing.T) map[string]string {
	t.Helper()
	file := parseGo(t, conditionsGo)
	reasons := map[string]string{}
	ast.Inspect(file, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range spec.Names {
			if !strings.HasPrefix(name.Name, "Reason") || i >= len(spec.Values) {
				continue
			}
			if lit, ok := spec.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				reasons[name.Name] = v
			}
		}
		return true
	})
	if len(reasons) == 0 {
		t.Fatalf("no Reason constants in %s", conditionsGo)
	}
	return reasons
}

// stallingReasons reads the keys of internal/controller's stallingReasons.
func stallingReasons(t *testing.T, reasons map[string]string) map[string]bool {
	t.Helper()
	file := parseGo(t, statusGo)
	stalling := map[string]bool{}
	ast.Inspect(file, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok || len(spec.Names) != 1 || spec.Names[0].Name != "stallingReasons" || len(spec.Values) != 1 {
			return true
		}
		lit, ok := spec.Values[0].(*ast.CompositeLit)
		if !ok {
			t.Fatalf("%s: stallingReasons is not a map literal", statusGo)
		}
		for _, elt := range lit.Elts {
			kv, ok := elt.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			stalling[reasonOf(t, kv.Key, reasons)] = true
		}
		return false
	})
	if len(stalling) == 0 {
		t.Fatalf("no stallingReasons in %s", statusGo)
	}
	return stalling
}

// usedReasons are the Reason constants the operator's code (internal/ and
// cmd/, tests left out) names.
func usedReasons(t *testing.T, reasons map[string]string) []string {
	t.Helper()
	used := map[string]bool{}
	for _, dir := range []string{root + "/internal", root + "/cmd"} {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			ast.Inspect(parseGo(t, path), func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if v, ok := reasons[sel.Sel.Name]; ok {
						used[v] = true
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(used) == 0 {
		t.Fatal("the code names no Reason constant")
	}
	return sortedKeys(used)
}

// classifiedReasons reads internal/controller's classification, the one
// table that says which reason each PostHog error gives each kind: the
// reasons of its `reference` and `connection` verdicts, by kind.
func classifiedReasons(t *testing.T, reasons map[string]string) map[string][]string {
	t.Helper()
	vars := packageVars(parseGo(t, classifyGo))
	byKind := map[string]map[string]bool{referenceKind: {}, connKind: {}}
	for _, c := range classLiterals(t, vars) {
		for fieldName, kind := range map[string]string{"reference": referenceKind, "connection": connKind} {
			if v := field(c, fieldName); v != nil {
				byKind[kind][verdictReason(t, v, vars, reasons)] = true
			}
		}
	}
	// A write PostHog refuses for the key's rights: a reference's verdict.
	if v, ok := vars["refusedWrite"]; ok {
		byKind[referenceKind][verdictReason(t, v, vars, reasons)] = true
	}
	out := map[string][]string{}
	for kind, set := range byKind {
		if len(set) == 0 {
			t.Fatalf("%s: no %s reasons in classification", classifyGo, kind)
		}
		out[kind] = sortedKeys(set)
	}
	return out
}

// packageVars maps the package-level variables of file to their values.
func packageVars(file *ast.File) map[string]ast.Expr {
	vars := map[string]ast.Expr{}
	for _, decl := range file.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.VAR {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i < len(vs.Values) {
					vars[name.Name] = vs.Values[i]
				}
			}
		}
	}
	return vars
}

// classLiterals are the class values of classification, and unexpected.
func classLiterals(t *testing.T, vars map[string]ast.Expr) []*ast.CompositeLit {
	t.Helper()
	table, ok := vars["classification"].(*ast.CompositeLit)
	if !ok {
		t.Fatalf("%s: no classification literal", classifyGo)
	}
	unexpected, ok := vars["unexpected"].(*ast.CompositeLit)
	if !ok {
		t.Fatalf("%s: no unexpected literal", classifyGo)
	}
	classes := []*ast.CompositeLit{unexpected}
	for _, elt := range table.Elts {
		if kv, ok := elt.(*ast.KeyValueExpr); ok {
			if c, ok := kv.Value.(*ast.CompositeLit); ok {
				classes = append(classes, c)
			}
		}
	}
	return classes
}

// verdictReason resolves a verdict (a literal, or a variable holding one)
// to its reason.
func verdictReason(t *testing.T, e ast.Expr, vars map[string]ast.Expr, reasons map[string]string) string {
	t.Helper()
	switch e := e.(type) {
	case *ast.Ident:
		if v, ok := vars[e.Name]; ok {
			return verdictReason(t, v, vars, reasons)
		}
	case *ast.CompositeLit:
		if v := field(e, "reason"); v != nil {
			return reasonOf(t, v, reasons)
		}
	}
	t.Fatalf("%s: cannot resolve the verdict %#v", classifyGo, e)
	return ""
}

// field is the value of a keyed field of a composite literal, or nil.
func field(lit *ast.CompositeLit, name string) ast.Expr {
	for _, elt := range lit.Elts {
		if kv, ok := elt.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok && id.Name == name {
				return kv.Value
			}
		}
	}
	return nil
}

// reasonOf is the value of a reference to a Reason constant (pkg.ReasonX).
func reasonOf(t *testing.T, e ast.Expr, reasons map[string]string) string {
	t.Helper()
	if sel, ok := e.(*ast.SelectorExpr); ok {
		if v, ok := reasons[sel.Sel.Name]; ok {
			return v
		}
	}
	t.Fatalf("%#v is not a Reason constant of %s", e, conditionsGo)
	return ""
}

func parseGo(t *testing.T, path string) *ast.File {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	return file
}

// --- the docs -------------------------------------------------------------------

// troubleshootingRow is one row of the README's troubleshooting table.
type troubleshootingRow struct {
	kind, reason string
	stalled      bool
}

func (r troubleshootingRow) kinds() []string {
	switch r.kind {
	case allKinds:
		return []string{referenceKind, connKind, clusterKind}
	case connectionKinds:
		return []string{connKind, clusterKind}
	}
	return []string{r.kind}
}

func troubleshootingRows(t *testing.T) []troubleshootingRow {
	t.Helper()
	cellRows := table(t, readFile(t, readmeFile), "## Troubleshooting")
	rows := make([]troubleshootingRow, 0, len(cellRows))
	for _, cells := range cellRows {
		if len(cells) != 4 {
			t.Fatalf("troubleshooting table: a row of %d cells, not 4: %q", len(cells), cells)
		}
		kind := cells[0]
		if !slices.Contains([]string{referenceKind, connKind, clusterKind, connectionKinds, allKinds}, kind) {
			t.Errorf("troubleshooting table: kind %q is none of %s, %s, %s, %s, %s", kind, referenceKind, connKind,
				clusterKind, connectionKinds, allKinds)
		}
		spans := codeSpans(cells[1])
		if len(spans) == 0 {
			t.Fatalf("troubleshooting table: no `reason` in %q", cells[1])
		}
		rows = append(rows, troubleshootingRow{kind: kind, reason: spans[0],
			stalled: strings.Contains(cells[1], "(Stalled)")})
	}
	if len(rows) == 0 {
		t.Fatal("the README has no troubleshooting table")
	}
	return rows
}

// table returns the body rows (cells trimmed) of the first Markdown table
// after the heading (from the start when heading is "").
func table(t *testing.T, doc, heading string) [][]string {
	t.Helper()
	if heading != "" {
		i := strings.Index(doc, "\n"+heading)
		if i < 0 {
			t.Fatalf("no heading %q", heading)
		}
		doc = doc[i+1:]
	}
	var rows [][]string
	inTable := false
	for line := range strings.SplitSeq(doc, "\n") {
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		if !inTable { // the header row; the delimiter row follows
			inTable = true
			continue
		}
		cells := splitRow(line)
		if len(cells) > 0 && strings.Trim(strings.Join(cells, ""), "-: ") == "" {
			continue
		}
		rows = append(rows, cells)
	}
	return rows
}

// tableRow is the cells of the first table row after heading (from the
// start when heading is "") whose first cell starts with first.
func tableRow(t *testing.T, doc, heading, first string) []string {
	t.Helper()
	if heading != "" {
		i := strings.Index(doc, "\n"+heading)
		if i < 0 {
			t.Fatalf("no heading %q", heading)
		}
		doc = doc[i:]
	}
	for line := range strings.SplitSeq(doc, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		if cells := splitRow(line); strings.HasPrefix(cells[0], first) {
			return cells
		}
	}
	t.Fatalf("no table row starting with %q after %q", first, heading)
	return nil
}

// splitRow splits a Markdown table row on the pipes outside code spans.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var cell strings.Builder
	inCode := false
	for _, r := range line {
		switch {
		case r == '`':
			inCode = !inCode
		case r == '|' && !inCode:
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
			continue
		}
		cell.WriteRune(r)
	}
	return append(cells, strings.TrimSpace(cell.String()))
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

// codeSpans are the texts in backticks.
func codeSpans(s string) []string {
	matches := codeSpan.FindAllStringSubmatch(s, -1)
	spans := make([]string, 0, len(matches))
	for _, m := range matches {
		spans = append(spans, m[1])
	}
	return spans
}

// checkSameReasons: of the code spans in got, those that are reasons must be
// exactly want.
func checkSameReasons(t *testing.T, what string, got, want []string, reasons map[string]string) {
	t.Helper()
	values := slices.Collect(maps.Values(reasons))
	set := map[string]bool{}
	for _, g := range got {
		if slices.Contains(values, g) {
			set[g] = true
		}
	}
	for _, w := range want {
		if !set[w] {
			t.Errorf("%s lacks the stalling reason %q", what, w)
		}
	}
	for g := range set {
		if !slices.Contains(want, g) {
			t.Errorf("%s names %q, which is not a stalling reason there", what, g)
		}
	}
}

// --- the alert rules ----------------------------------------------------------

func alertRules(t *testing.T) map[string]string {
	t.Helper()
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `json:"alert"`
				Expr  string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, rulesFile)), &file); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	exprs := map[string]string{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				exprs[r.Alert] = r.Expr
			}
		}
	}
	return exprs
}

var selector = regexp.MustCompile(`posthog_operator_objects\{([^}]*)\}`)

// reasonMatchers reads, per kind, the reasons in the `reason<op>"a|b"`
// matchers of expr's posthog_operator_objects selectors, whose kind matcher
// is kind="A" or kind=~"A|B". sharing maps each kind of a kind=~ selector
// to all the kinds that selector names.
func reasonMatchers(t *testing.T, expr, op string) (byKind, sharing map[string][]string) {
	t.Helper()
	kindMatcher := regexp.MustCompile(`kind=~?"([^"]+)"`)
	reasonMatcher := regexp.MustCompile(`reason` + regexp.QuoteMeta(op) + `"([^"]*)"`)
	byKind, sharing = map[string][]string{}, map[string][]string{}
	for _, m := range selector.FindAllStringSubmatch(expr, -1) {
		kind := kindMatcher.FindStringSubmatch(m[1])
		reason := reasonMatcher.FindStringSubmatch(m[1])
		if kind == nil || reason == nil {
			continue
		}
		kinds := strings.Split(kind[1], "|")
		for _, k := range kinds {
			byKind[k] = append(byKind[k], strings.Split(reason[1], "|")...)
			sharing[k] = kinds
		}
	}
	if len(byKind) == 0 {
		t.Fatalf("no posthog_operator_objects{kind=..., reason%s...} in %q", op, expr)
	}
	return byKind, sharing
}

// --- helpers ---------------------------------------------------------------------

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func sortedKeys(set map[string]bool) []string {
	return slices.Sorted(maps.Keys(set))
}
