package realm

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// SeedOptions describe the accounts Seed adds.
type SeedOptions struct {
	// Members is the number of member accounts (uid sNNNNN).
	Members int
	// FirstUID is the first uidNumber; 0 means right after the test
	// users, so the bottom of the member range is crowded. Numbers that
	// do not fit in the member range (less SpareIDs at its top) go above
	// every range, as accounts of an older numbering would.
	FirstUID int
	// Random seeds the term histories, names and groups; the same value
	// gives the same directory.
	Random uint64
	// Now is the time whose term is "current"; zero means time.Now().
	Now time.Time
}

// SpareIDs is how many numbers Seed leaves free at the top of the member
// range, so that adduser still finds one however many members are seeded.
const SpareIDs = 100

// Seeded counts what Seed added, for tests to check listings against.
type Seeded struct {
	Members    int            // member entries (objectClass member)
	Clubs      int            // club entries (objectClass club), uid cNNNN
	ClubReps   int            // members holding a nonMemberTerm
	ByTerm     map[string]int // members registered (term) for each term
	Current    string         // the current term
	NotCurrent int            // members registered for the current term as neither
	// Since counts members by how many terms before the current one
	// their latest term (term or nonMemberTerm) is; -1: never registered.
	Since   map[int]int
	Groups  map[string]int // the big groups (seed-big-N) and their member counts
	Named   map[string]int // members whose cn contains each surname
	MaxUID  int            // highest member uidNumber in the member range
	Entries int            // LDAP entries added, groups included
	Took    time.Duration  // time to generate and load
}

// SeedSurnames are the surnames of seeded members, for searches by name.
func SeedSurnames() []string {
	return []string{"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
		"Perlman", "Wirth", "Lamport", "Hamilton", "Zhang", "Nguyen", "Singh", "Okafor"}
}

// seedTerms is how far back term histories reach: ten years.
const seedTerms = 30

// Seed fills the running directory with opts.Members member accounts with varied
// term histories (members, club reps, lapsed and never-registered
// accounts), a club per 50 members with its reps in its group, and big
// groups (seed-big-1 with half the members, seed-big-2 with a fifth),
// and adds a tenth of the members to office and a twentieth to syscom.
// Each account gets its personal group, as adduser makes. The entries are
// written as one LDIF file and loaded with one ldapadd as the rootdn,
// bypassing every limit (Options.Seed loads the same with slapadd before
// slapd starts, which is faster). The seeded accounts have no Kerberos principal
// or home directory.
func (r *Realm) Seed(opts SeedOptions) (*Seeded, error) {
	t0 := time.Now()
	ldif, st := r.seedEntries(opts)
	path := r.path("ldap/seed-members.ldif")
	if err := os.WriteFile(path, []byte(ldif), 0o600); err != nil {
		return nil, err
	}
	if err := r.ldapRootTool("ldapadd", path); err != nil {
		return nil, fmt.Errorf("realm: seeding %d members: %w", opts.Members, err)
	}
	mod := r.seedGroupAdds(opts, st)
	if err := os.WriteFile(path, []byte(mod), 0o600); err != nil {
		return nil, err
	}
	if err := r.ldapRootTool("ldapmodify", path); err != nil {
		return nil, fmt.Errorf("realm: seeding office and syscom: %w", err)
	}
	os.Remove(path)
	st.Took = time.Since(t0)
	return st, nil
}

// SeedOnce seeds the realm with opts the first time it is called and
// returns the same counts on every later call, so the tests of a package
// share one seeded directory. A failure fails the test.
func (r *Realm) SeedOnce(t testing.TB, opts SeedOptions) *Seeded {
	t.Helper()
	r.seedMu.Lock()
	defer r.seedMu.Unlock()
	if r.seeded == nil && r.seedErr == nil {
		r.seeded, r.seedErr = r.Seed(opts)
		if r.seedErr == nil {
			fmt.Fprintf(os.Stderr, "realm: seeded %d members (%d entries) in %v\n", r.seeded.Members, r.seeded.Entries, r.seeded.Took.Round(time.Millisecond))
		}
	}
	if r.seedErr != nil {
		t.Fatal(r.seedErr)
	}
	return r.seeded
}

// ldapRootTool runs ldapadd or ldapmodify as the rootdn on an LDIF file,
// with the password in a file, never in argv.
func (r *Realm) ldapRootTool(tool, ldif string) error {
	pw := r.path("ldap/rootpw")
	if err := os.WriteFile(pw, []byte(r.LDAPRootPassword), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(tool, "-x", "-H", r.LDAPURL, "-D", r.LDAPRootDN, "-y", pw, "-f", ldif)
	cmd.Env = append(os.Environ(), "LDAPCONF="+r.path("ldap/ldap.conf"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		tail := out.String()
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return fmt.Errorf("%s: %w\n%s", tool, err, tail)
	}
	return nil
}

// seedEntries builds the LDIF of the members, clubs and groups.
func (r *Realm) seedEntries(opts SeedOptions) (string, *Seeded) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	rng := rand.New(rand.NewPCG(opts.Random, 0x5eed))
	seedFirst := []string{"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Niklaus", "Leslie", "Margaret"}
	seedLast := SeedSurnames()
	seedProgs := []string{"Computer Science", "Mathematics", "Software Engineering", "Statistics", "Combinatorics and Optimization", "Physics"}
	cur := CurrentTerm(now)
	terms := pastTerms(now, seedTerms) // terms[0] is the current term
	st := &Seeded{ByTerm: map[string]int{}, Current: cur, Groups: map[string]int{}, Named: map[string]int{}, Since: map[int]int{}}
	uid := opts.FirstUID
	if uid == 0 {
		for _, u := range r.Users {
			uid = max(uid, u.UID+1)
		}
	}
	const memberTop = 29999 - SpareIDs // member_max_id of the realm's accounts.cf
	const overflow = 100001            // above every range of accounts.cf
	var b strings.Builder
	big := []struct {
		name  string
		every int
		mem   []string
	}{{name: "seed-big-1", every: 2}, {name: "seed-big-2", every: 5}}
	clubs := max(opts.Members/50, 1)
	clubReps := make([][]string, clubs)
	for i := 0; i < opts.Members; i++ {
		name := fmt.Sprintf("s%05d", i)
		if uid > memberTop && uid < overflow {
			uid = overflow
		}
		if uid <= memberTop {
			st.MaxUID = uid
		}
		first, last := seedFirst[rng.IntN(len(seedFirst))], seedLast[rng.IntN(len(seedLast))]
		st.Named[last]++
		// A history: a start some terms ago and a run of terms, with a
		// few missed; a sixth of the accounts are club reps, a
		// twentieth were never registered.
		var ts, nts []string
		latest := -1
		if rng.IntN(20) != 0 {
			start := rng.IntN(seedTerms)
			run := 1 + rng.IntN(12)
			rep := rng.IntN(6) == 0
			for k := start; k > start-run && k >= 0; k-- {
				if rng.IntN(5) == 0 {
					continue
				}
				latest = k
				if rep {
					nts = append(nts, terms[k])
				} else {
					ts = append(ts, terms[k])
				}
			}
			if rep && len(nts) > 0 {
				st.ClubReps++
				clubReps[i%clubs] = append(clubReps[i%clubs], name)
			}
		}
		st.Since[latest]++
		for _, t := range ts {
			st.ByTerm[t]++
		}
		in := func(t string) bool { return slices.Contains(ts, t) || slices.Contains(nts, t) }
		if !in(terms[0]) {
			st.NotCurrent++
		}
		fmt.Fprintf(&b, "dn: %s\nobjectClass: top\nobjectClass: account\nobjectClass: posixAccount\nobjectClass: shadowAccount\nobjectClass: member\n", r.UserDN(name))
		fmt.Fprintf(&b, "uid: %s\ncn: %s %s\nuidNumber: %d\ngidNumber: %d\nhomeDirectory: %s\nloginShell: /bin/bash\nprogram: %s\n",
			name, first, last, uid, uid, filepath.Join(r.HomeRoot, "members", name), seedProgs[rng.IntN(len(seedProgs))])
		for _, t := range ts {
			fmt.Fprintf(&b, "term: %s\n", t)
		}
		for _, t := range nts {
			fmt.Fprintf(&b, "nonMemberTerm: %s\n", t)
		}
		b.WriteString("\n")
		fmt.Fprintf(&b, "dn: %s\nobjectClass: top\nobjectClass: group\nobjectClass: posixGroup\ncn: %s\ngidNumber: %d\n\n", r.GroupDN(name), name, uid)
		for k := range big {
			if i%big[k].every == 0 {
				big[k].mem = append(big[k].mem, name)
			}
		}
		st.Members++
		st.Entries += 2
		uid++
	}
	for c := 0; c < clubs; c++ {
		name, id := fmt.Sprintf("c%04d", c), 30001+c
		fmt.Fprintf(&b, "dn: %s\nobjectClass: top\nobjectClass: account\nobjectClass: posixAccount\nobjectClass: shadowAccount\nobjectClass: club\n", r.UserDN(name))
		fmt.Fprintf(&b, "uid: %s\ncn: Seeded Club %d\nuidNumber: %d\ngidNumber: %d\nhomeDirectory: %s\nloginShell: /bin/bash\n\n",
			name, c, id, id, filepath.Join(r.HomeRoot, "clubs", name))
		writeGroup(&b, r, name, id, clubReps[c])
		st.Clubs++
		st.Entries += 2
	}
	for k, g := range big {
		writeGroup(&b, r, g.name, 50001+k, g.mem)
		st.Groups[g.name] = len(g.mem)
		st.Entries++
	}
	return b.String(), st
}

// seedStaff picks every tenth seeded member for office and every
// twentieth for syscom: big groups for the ops' authorization checks.
func seedStaff(opts SeedOptions, st *Seeded) map[string][]string {
	out := map[string][]string{}
	for _, g := range []struct {
		name  string
		every int
	}{{"office", 10}, {"syscom", 20}} {
		for i := 0; i < opts.Members; i += g.every {
			out[g.name] = append(out[g.name], fmt.Sprintf("s%05d", i))
		}
		st.Groups[g.name] = len(out[g.name])
	}
	return out
}

// seedGroupAdds is the LDIF that adds staff (see seedStaff) to office
// and syscom of a running realm.
func (r *Realm) seedGroupAdds(opts SeedOptions, st *Seeded) string {
	var b strings.Builder
	for g, ms := range seedStaff(opts, st) {
		fmt.Fprintf(&b, "dn: %s\nchangetype: modify\nadd: memberUid\n", r.GroupDN(g))
		for _, m := range ms {
			fmt.Fprintf(&b, "memberUid: %s\n", m)
		}
		b.WriteString("-\nadd: uniqueMember\n")
		for _, m := range ms {
			fmt.Fprintf(&b, "uniqueMember: %s\n", r.UserDN(m))
		}
		b.WriteString("-\n\n")
	}
	return b.String()
}

func writeGroup(b *strings.Builder, r *Realm, name string, gid int, members []string) {
	fmt.Fprintf(b, "dn: %s\nobjectClass: top\nobjectClass: group\nobjectClass: posixGroup\ncn: %s\ngidNumber: %d\n", r.GroupDN(name), name, gid)
	for _, m := range members {
		fmt.Fprintf(b, "memberUid: %s\n", m)
	}
	for _, m := range members {
		fmt.Fprintf(b, "uniqueMember: %s\n", r.UserDN(m))
	}
	b.WriteString("\n")
}

// pastTerms returns the term holding now and the n-1 before it, newest
// first.
func pastTerms(now time.Time, n int) []string {
	out := make([]string, 0, n)
	y, s := now.Year(), (int(now.Month())-1)/4
	for range n {
		out = append(out, fmt.Sprintf("%c%d", "wsf"[s], y))
		if s--; s < 0 {
			s, y = 2, y-1
		}
	}
	return out
}
