// Package plan is `kubectl posthog plan`: what the operator would do to
// PostHog for a set of manifests, computed by the controller's own
// decision code (controller.PlanReference, controller.PruneCandidates)
// from one read of each PostHog organization, with no write.
package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// Action is what one line of a plan says.
type Action string

// The actions, as the text output marks them.
const (
	ActionCreate    Action = "create"    // +
	ActionAdopt     Action = "adopt"     // <
	ActionReplace   Action = "replace"   // ~
	ActionUnchanged Action = "unchanged" // =
	ActionConflict  Action = "conflict"  // !
	ActionDuplicate Action = "duplicate" // !
	ActionInvalid   Action = "invalid"   // !
	ActionPrune     Action = "prune"     // -
)

// Target is one PostHog organization, as one walk of its references and
// one of its roles found it.
type Target struct {
	Host           string
	OrganizationID string
	References     []posthog.Reference
	Roles          []posthog.Role
}

// TargetKey identifies an organization: its host, canonical, and its id,
// lower-cased.
func TargetKey(host, organizationID string) string {
	return posthog.CanonicalHost(host) + " " + strings.ToLower(organizationID)
}

// Object is one RoleExternalReference the plan weighs: from the manifests
// (planned), or live in the cluster (claiming what it owns or asks for).
type Object struct {
	// Ref carries the spec (the manifest's, where there is one) and
	// status.id (the live object's, in cluster mode).
	Ref *iamv1alpha1.RoleExternalReference
	// Planned: the object is a manifest the plan shows a line for.
	Planned bool
	// FromInput: the object is a manifest (planned, or of another
	// connection than the one planned); else it is live in the cluster.
	FromInput bool
	// Target is the TargetKey of the organization its connection reaches;
	// "" when unknown (its connection is not in the cluster, or could not
	// be read): it then claims in every organization.
	Target string
	// Connection names its connection in messages.
	Connection string
	// Missing says why Target is unknown, for a manifest's invalid line.
	Missing string
}

// Pruner is a connection with spec.prune.
type Pruner struct {
	Connection string // e.g. "PostHogConnection team-a/posthog"
	Target     string
	Prune      iamv1alpha1.PruneSpec
}

// Input is what a plan is computed from.
type Input struct {
	Targets map[string]*Target
	Objects []Object
	Pruners []Pruner
	// Ownership is known: the live objects and their status.id were read
	// (cluster mode). Without it, a reference equal to a manifest is
	// "unchanged" and one holding its keys with other fields a "replace?".
	Ownership bool
	// Notes are said under the summary.
	Notes []string
}

// Change is one field a replace changes (Old → New), or in which a
// conflict's holder differs from the spec (Old held, New asked for).
type Change struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// Line is one line of the plan.
type Line struct {
	Action Action `json:"action"`
	// Namespace and Name are the object's (empty for a prune).
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	// Connection is the object's connection, or the pruning one.
	Connection   string `json:"connection,omitempty"`
	Organization string `json:"organization,omitempty"`
	// ID is the PostHog reference the line is about: adopted, replaced,
	// unchanged, in the way, or pruned.
	ID string `json:"id,omitempty"`
	// Reference is the PostHog reference as the line shows it: the one
	// created (its spec), or the one pruned.
	Reference *Fields  `json:"reference,omitempty"`
	Changes   []Change `json:"changes,omitempty"`
	// Holder is the other object of a duplicate.
	Holder string `json:"holder,omitempty"`
	// Unverified: a replace the plan cannot tell from a conflict, the
	// ownership being unknown without a cluster.
	Unverified bool `json:"unverified,omitempty"`
	// DryRun: a prune candidate of a connection in DryRun mode, listed and
	// not deleted.
	DryRun bool   `json:"dryRun,omitempty"`
	Detail string `json:"detail"`
}

// Fields are a reference's fields, roles named where the organization
// names them.
type Fields struct {
	Provider               string `json:"provider"`
	ProviderOrganizationID string `json:"providerOrganizationId"`
	ProviderRoleID         string `json:"providerRoleId"`
	ProviderRoleSlug       string `json:"providerRoleSlug,omitempty"`
	ProviderRoleName       string `json:"providerRoleName"`
	Role                   string `json:"role"`
	RoleName               string `json:"roleName,omitempty"`
}

// Plan is the whole answer.
type Plan struct {
	Lines   []Line   `json:"lines"`
	Summary Summary  `json:"summary"`
	Notes   []string `json:"notes,omitempty"`
}

// Summary counts the lines.
type Summary struct {
	Create     int `json:"create"`
	Adopt      int `json:"adopt"`
	Replace    int `json:"replace"`
	Unverified int `json:"unverifiedReplace"`
	Unchanged  int `json:"unchanged"`
	Prune      int `json:"prune"`
	PruneDry   int `json:"pruneDryRun"`
	Conflict   int `json:"conflict"`
	Duplicate  int `json:"duplicate"`
	Invalid    int `json:"invalid"`
}

// Exit codes, as terraform plan -detailed-exitcode.
const (
	ExitNothing = 0
	ExitProblem = 1
	ExitChanges = 2
)

// ExitCode is 1 for conflicts, duplicates and invalid objects, else 2 when
// the operator would write (create, adopt, replace, prune in Enforce mode),
// else 0.
func (s Summary) ExitCode() int {
	switch {
	case s.Conflict+s.Duplicate+s.Invalid > 0:
		return ExitProblem
	case s.Create+s.Adopt+s.Replace+s.Prune-s.PruneDry > 0:
		return ExitChanges
	default:
		return ExitNothing
	}
}

// Compute plans every manifest of in and every prune candidate of its
// pruners, in a stable order: the objects by namespace and name, then the
// prune candidates by connection and reference.
func Compute(in Input) Plan {
	var p Plan
	for i, obj := range in.Objects {
		if obj.Planned {
			p.Lines = append(p.Lines, in.planObject(i))
		}
	}
	slices.SortStableFunc(p.Lines, func(a, b Line) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	pruners := slices.Clone(in.Pruners)
	slices.SortStableFunc(pruners, func(a, b Pruner) int { return strings.Compare(a.Connection, b.Connection) })
	for _, pr := range pruners {
		p.Lines = append(p.Lines, in.prune(pr)...)
	}
	for _, l := range p.Lines {
		p.Summary.count(l)
	}
	p.Notes = in.notes(p.Summary)
	return p
}

func (s *Summary) count(l Line) {
	switch l.Action {
	case ActionCreate:
		s.Create++
	case ActionAdopt:
		s.Adopt++
	case ActionReplace:
		s.Replace++
		if l.Unverified {
			s.Unverified++
		}
	case ActionUnchanged:
		s.Unchanged++
	case ActionPrune:
		s.Prune++
		if l.DryRun {
			s.PruneDry++
		}
	case ActionConflict:
		s.Conflict++
	case ActionDuplicate:
		s.Duplicate++
	case ActionInvalid:
		s.Invalid++
	}
}

func (in Input) notes(s Summary) []string {
	notes := slices.Clone(in.Notes)
	if s.Unverified > 0 {
		notes = append(notes, "Planned without a cluster, the plan cannot know who owns a PostHog reference: "+
			"each \"replace?\" is a replace if an object in the cluster owns that reference, and a conflict "+
			"(nothing written) otherwise. Plan through the cluster (without --host) to know.")
	}
	if !in.Ownership && len(in.Pruners) > 0 {
		notes = append(notes, "Planned without a cluster, only the manifests claim references: a reference "+
			"listed \"prune\" that an object in the cluster owns or asks for is not pruned.")
	}
	return notes
}

// planObject is the line of manifest i.
func (in Input) planObject(i int) Line {
	obj := in.Objects[i]
	line := Line{Namespace: obj.Ref.Namespace, Name: obj.Ref.Name, Connection: obj.Connection}
	target := in.Targets[obj.Target]
	if target == nil {
		return invalid(line, cmp.Or(obj.Missing, "its connection is unknown"))
	}
	line.Organization = target.OrganizationID
	if field := controller.BlankField(controller.DesiredSpec(obj.Ref, "")); field != "" {
		return invalid(line, fmt.Sprintf("spec.%s is blank once PostHog strips surrounding whitespace: "+
			"give it a visible value", field))
	}
	roleID, problem := target.role(obj.Ref)
	if problem != "" {
		return invalid(line, problem)
	}
	desired := controller.DesiredSpec(obj.Ref, roleID)
	recorded := ""
	if in.Ownership {
		recorded = obj.Ref.Status.ID
	}
	change := controller.PlanReference(desired, recorded, target.References)
	if dup, ok := in.duplicate(i, desired, change); ok {
		return dup
	}
	return target.describe(line, desired, recorded, change, in.Ownership)
}

func invalid(line Line, detail string) Line {
	line.Action, line.Detail = ActionInvalid, detail
	return line
}

// role is the role id the spec asks for, or why it names no role of the
// organization.
func (t *Target) role(ref *iamv1alpha1.RoleExternalReference) (string, string) {
	if name := ref.Spec.RoleName; name != "" {
		for _, r := range t.Roles {
			if strings.EqualFold(posthog.Strip(r.Name), posthog.Strip(name)) {
				return r.ID, ""
			}
		}
		return "", fmt.Sprintf("spec.roleName %q names no role of PostHog organization %s: create the role, "+
			"or name one of %s", name, t.OrganizationID, t.roleNames())
	}
	id := posthog.Strip(ref.Spec.Role)
	for _, r := range t.Roles {
		if strings.EqualFold(r.ID, id) {
			return r.ID, ""
		}
	}
	return "", fmt.Sprintf("spec.role %s is not a role of PostHog organization %s (deleted, never there, or "+
		"another organization's): PostHog would refuse it", ref.Spec.Role, t.OrganizationID)
}

func (t *Target) roleNames() string {
	names := make([]string, 0, len(t.Roles))
	for _, r := range t.Roles {
		names = append(names, strconv.Quote(r.Name))
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "its roles (it has none)"
	}
	return "its roles: " + strings.Join(names, ", ")
}

// roleLabel is a role id with its name, where the organization names it.
func (t *Target) roleLabel(id string) string {
	for _, r := range t.Roles {
		if strings.EqualFold(r.ID, id) {
			return fmt.Sprintf("%q (%s)", r.Name, r.ID)
		}
	}
	return id
}

// duplicate is the line of manifest i when another object owns the
// reference it would take, or asks for its keys too: the operator would
// leave it Duplicate, writing nothing.
func (in Input) duplicate(i int, desired posthog.ReferenceSpec, change controller.PlannedChange) (Line, bool) {
	obj := in.Objects[i]
	line := Line{Action: ActionDuplicate, Namespace: obj.Ref.Namespace, Name: obj.Ref.Name,
		Connection: obj.Connection, Organization: in.Targets[obj.Target].OrganizationID}
	for j, other := range in.Objects {
		if j == i || other.Target != obj.Target || (other.Ref.Namespace == obj.Ref.Namespace &&
			other.Ref.Name == obj.Ref.Name) {
			continue
		}
		holder := describeObject(other)
		if taken := in.takenBy(change, other); taken != "" {
			line.ID, line.Holder = taken, holder
			line.Detail = fmt.Sprintf("PostHog reference %s is owned by %s; this object would write nothing",
				taken, holder)
			return line, true
		}
		if in.asksForTheSameKeys(obj, other, desired) {
			line.Holder = holder
			line.Detail = fmt.Sprintf("%s asks for the same provider role (%s); the operator lets one of the two "+
				"write and leaves the other Duplicate: delete one, or make them name different roles", holder,
				keyOf(desired))
			return line, true
		}
	}
	return Line{}, false
}

// takenBy is the id of the reference change takes (adopts, is in conflict
// with, or keeps) when other owns it, else "". Of two manifests recording
// one id, neither is told apart here.
func (in Input) takenBy(change controller.PlannedChange, other Object) string {
	if !in.Ownership || other.Ref.Status.ID == "" || !strings.EqualFold(other.Ref.Status.ID, change.Reference.ID) {
		return ""
	}
	switch change.Action {
	case controller.PlanAdopt, controller.PlanConflict:
		return change.Reference.ID
	case controller.PlanUnchanged:
		if !other.FromInput {
			return change.Reference.ID
		}
	}
	return ""
}

// asksForTheSameKeys reports whether other's spec holds one of desired's
// keys; the owner of a reference keeps it, so only a newcomer waits.
func (in Input) asksForTheSameKeys(obj, other Object, desired posthog.ReferenceSpec) bool {
	if !posthog.SharesKeys(desired, referenceOf(controller.DesiredSpec(other.Ref, ""))) {
		return false
	}
	return !in.Ownership || obj.Ref.Status.ID == "" || other.Ref.Status.ID != ""
}

func describeObject(o Object) string {
	where := "in the cluster"
	if o.FromInput {
		where = "in the manifests"
	}
	name := o.Ref.Name
	if o.Ref.Namespace != "" {
		name = o.Ref.Namespace + "/" + name
	}
	return fmt.Sprintf("RoleExternalReference %s (%s)", name, where)
}

func keyOf(s posthog.ReferenceSpec) string {
	key := fmt.Sprintf("%s/%s role id %s", s.Provider, s.ProviderOrganizationID, s.ProviderRoleID)
	if s.ProviderRoleSlug != nil {
		key += " slug " + *s.ProviderRoleSlug
	}
	return key
}

func referenceOf(s posthog.ReferenceSpec) posthog.Reference {
	return posthog.Reference{Provider: s.Provider, ProviderOrganizationID: s.ProviderOrganizationID,
		ProviderRoleID: s.ProviderRoleID, ProviderRoleSlug: s.ProviderRoleSlug,
		ProviderRoleName: s.ProviderRoleName, Role: s.Role}
}

// describe turns the controller's verdict into a line.
func (t *Target) describe(line Line, desired posthog.ReferenceSpec, recorded string,
	change controller.PlannedChange, ownership bool) Line {
	ref := change.Reference
	line.ID = ref.ID
	switch change.Action {
	case controller.PlanCreate:
		line.Action, line.Reference = ActionCreate, t.fields(referenceOf(desired))
		line.Detail = t.summary(referenceOf(desired))
	case controller.PlanAdopt:
		line.Action = ActionAdopt
		line.Detail = "records the existing reference, equal to the spec; nothing is created"
		if recorded != "" {
			line.Detail += fmt.Sprintf(", and the recorded %s is deleted", recorded)
		}
		if !ownership {
			line.Action = ActionUnchanged
			line.Detail = "PostHog holds a reference equal to the spec"
		}
	case controller.PlanUnchanged:
		line.Action, line.Detail = ActionUnchanged, "PostHog holds what the spec asks for"
	case controller.PlanReplace:
		line.Action, line.ID = ActionReplace, recorded
		if ref.ID == "" {
			line.Reference = t.fields(referenceOf(desired))
			line.Detail = fmt.Sprintf("the recorded reference %s is gone from PostHog: created again as %s",
				recorded, t.summary(referenceOf(desired)))
		} else {
			line.Changes = t.changes(change.Fields, ref, desired)
			line.Detail = "deleted and created again (PostHog has no update): " + changeText(line.Changes)
		}
	case controller.PlanConflict:
		line.Changes = t.changes(change.Fields, ref, desired)
		if !ownership {
			line.Action, line.Unverified = ActionReplace, true
			line.Detail = "holds this provider role with other fields; a replace if a cluster object owns it, " +
				"else a conflict: " + changeText(line.Changes)
			break
		}
		line.Action = ActionConflict
		line.Detail = fmt.Sprintf("PostHog reference %s, which no object owns, holds this provider role with "+
			"other fields; nothing is written: %s", ref.ID, conflictText(line.Changes))
	}
	return line
}

// changes are the fields in which held differs from desired.
func (t *Target) changes(fields []string, held posthog.Reference, desired posthog.ReferenceSpec) []Change {
	old, want := t.values(held), t.values(referenceOf(desired))
	out := make([]Change, 0, len(fields))
	for _, f := range fields {
		out = append(out, Change{Field: f, Old: old[f], New: want[f]})
	}
	return out
}

func changeText(changes []Change) string {
	parts := make([]string, 0, len(changes))
	for _, c := range changes {
		parts = append(parts, fmt.Sprintf("%s %s → %s", c.Field, c.Old, c.New))
	}
	return strings.Join(parts, ", ")
}

func conflictText(changes []Change) string {
	parts := make([]string, 0, len(changes))
	for _, c := range changes {
		parts = append(parts, fmt.Sprintf("%s %s (this spec: %s)", c.Field, c.Old, c.New))
	}
	return strings.Join(parts, ", ")
}

// values are a reference's fields by PostHog's names, quoted, roles labelled.
func (t *Target) values(r posthog.Reference) map[string]string {
	return map[string]string{"provider": strconv.Quote(r.Provider),
		"provider_organization_id": strconv.Quote(r.ProviderOrganizationID),
		"provider_role_id":         strconv.Quote(r.ProviderRoleID),
		"provider_role_slug":       strconv.Quote(r.Slug()),
		"provider_role_name":       strconv.Quote(r.ProviderRoleName), "role": t.roleLabel(r.Role)}
}

func (t *Target) fields(r posthog.Reference) *Fields {
	f := &Fields{Provider: r.Provider, ProviderOrganizationID: r.ProviderOrganizationID,
		ProviderRoleID: r.ProviderRoleID, ProviderRoleSlug: r.Slug(), ProviderRoleName: r.ProviderRoleName,
		Role: r.Role}
	for _, role := range t.Roles {
		if strings.EqualFold(role.ID, r.Role) {
			f.RoleName = role.Name
		}
	}
	return f
}

// summary is a reference in one phrase.
func (t *Target) summary(r posthog.Reference) string {
	key := fmt.Sprintf("%s/%s %s", r.Provider, r.ProviderOrganizationID, r.ProviderRoleID)
	if slug := r.Slug(); slug != "" {
		key += " (" + slug + ")"
	}
	return fmt.Sprintf("%s %q → role %s", key, r.ProviderRoleName, t.roleLabel(r.Role))
}

// prune lists what pr would delete: references inside its scopes that no
// object owns (records, in any organization) or claims (asks for, through
// a connection to pr's organization; an object whose organization is
// unknown claims in every one), as the controller's prune pass counts them.
func (in Input) prune(pr Pruner) []Line {
	target := in.Targets[pr.Target]
	if target == nil {
		return nil
	}
	var claims controller.Claims
	for _, o := range in.Objects {
		if in.Ownership { // as the prune pass: any recorded id is owned, ids being UUIDs
			claims.Own(o.Ref.Status.ID)
			if pending := o.Ref.Status.DeletePending; pending != nil {
				claims.Own(pending.ID)
			}
		}
		if o.Target != pr.Target && o.Target != "" {
			continue
		}
		claims.Claim(controller.DesiredSpec(o.Ref, ""))
	}
	dryRun := pr.Prune.Mode != iamv1alpha1.PruneEnforce
	candidates := controller.PruneCandidates(pr.Prune.Scopes, target.References, &claims)
	lines := make([]Line, 0, len(candidates))
	for _, r := range candidates {
		detail := "no object owns or asks for it: Enforce deletes it"
		if dryRun {
			detail = "no object owns or asks for it: DryRun lists it in status.prune, Enforce would delete it"
		}
		lines = append(lines, Line{Action: ActionPrune, Connection: pr.Connection,
			Organization: target.OrganizationID, ID: r.ID, Reference: target.fields(r), DryRun: dryRun,
			Detail: target.summary(r) + "; " + detail})
	}
	return lines
}
