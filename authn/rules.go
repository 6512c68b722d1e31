package authn

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ErrNoRule is wrapped by Rules.ShortName when no rule maps a principal to a user.
var ErrNoRule = errors.New("no auth_to_local rule maps the principal")

// Rules maps principals to short user names the way Hadoop's hadoop.security.auth_to_local does (its
// "hadoop" mechanism). The syntax is Hadoop's, whitespace-separated:
//
//	RULE:[<n>:<format>](<match regex>)s/<pattern>/<replacement>/[g][/L]
//	DEFAULT
//
// A RULE applies to principals of n components (alice@R has 1, HTTP/host@R has 2): the format, where $0 is
// the realm and $1.. the components, builds a string; when the match regex matches all of it (Java's
// matches()), the optional sed-like substitution (first match, or every match with g) gives the user, /L
// lower-cases it. DEFAULT maps a principal of the default realm to its first component. The first rule that
// applies wins; a result with @ or / is refused, as in Hadoop. Regular expressions are Go's (RE2), which
// covers the expressions of auth_to_local rules in practice (no back references or look-around); $n in a
// replacement is a group reference as in Java. A name without a realm (a token's principal, a JWT
// subject) maps to itself under DEFAULT.
type Rules struct {
	defaultRealm string
	rules        []rule
}

type rule struct {
	isDefault   bool
	components  int
	format      string
	match       *regexp.Regexp // nil: every formatted string
	from        *regexp.Regexp // nil: no substitution
	to          string
	global      bool
	lower       bool
	description string
}

// ruleSyntax is Hadoop's KerberosName.ruleParser.
var ruleSyntax = regexp.MustCompile(`^\s*((DEFAULT)|(RULE:\[(\d*):([^\]]*)](\(([^)]*)\))?(s/([^/]*)/([^/]*)/(g)?)?/?(L)?))`)

// ParseRules parses auth_to_local rules (Hadoop's syntax, see Rules). defaultRealm is the realm DEFAULT
// strips (krb5.conf's default_realm); empty when unknown, then DEFAULT maps only names without a realm.
func ParseRules(text, defaultRealm string) (*Rules, error) {
	r := &Rules{defaultRealm: defaultRealm}
	rest := strings.TrimSpace(text)
	for rest != "" {
		m := ruleSyntax.FindStringSubmatchIndex(rest)
		if m == nil {
			return nil, fmt.Errorf("auth_to_local: invalid rule at %q", firstLine(rest))
		}
		sub := func(i int) string {
			if m[2*i] < 0 {
				return ""
			}
			return rest[m[2*i]:m[2*i+1]]
		}
		ru := rule{description: sub(1)}
		if sub(2) != "" {
			ru.isDefault = true
		} else {
			n, err := strconv.Atoi(sub(4))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("auth_to_local: %q: the component count must be a positive number", sub(1))
			}
			ru.components, ru.format = n, sub(5)
			if m[2*6] >= 0 {
				if ru.match, err = regexp.Compile(`^(?:` + sub(7) + `)$`); err != nil {
					return nil, fmt.Errorf("auth_to_local: %q: %w", sub(1), err)
				}
			}
			if m[2*8] >= 0 {
				if ru.from, err = regexp.Compile(sub(9)); err != nil {
					return nil, fmt.Errorf("auth_to_local: %q: %w", sub(1), err)
				}
				ru.to, ru.global = javaReplacement(sub(10)), sub(11) == "g"
			}
			ru.lower = sub(12) == "L"
		}
		r.rules = append(r.rules, ru)
		rest = strings.TrimSpace(rest[m[1]:])
	}
	if len(r.rules) == 0 {
		return nil, errors.New("auth_to_local: no rules (use DEFAULT)")
	}
	return r, nil
}

// DefaultRules returns the rules "DEFAULT" for defaultRealm.
func DefaultRules(defaultRealm string) *Rules {
	return &Rules{defaultRealm: defaultRealm, rules: []rule{{isDefault: true, description: "DEFAULT"}}}
}

// ShortName maps a principal (alice@EXAMPLE.COM, HTTP/host@EXAMPLE.COM, or a name without a realm) to a
// user name. It returns an error wrapping ErrNoRule when no rule applies.
func (r *Rules) ShortName(principal string) (string, error) {
	name, realm, hasRealm := strings.Cut(principal, "@")
	if name == "" || strings.Contains(realm, "@") || (hasRealm && realm == "") {
		return "", fmt.Errorf("%w: %q is not a principal name", ErrNoRule, principal)
	}
	components := strings.Split(name, "/")
	if !hasRealm {
		// Hadoop: a name without a realm is its own short name, whatever the rules say.
		if len(components) > 1 {
			return "", fmt.Errorf("%w: %q has no realm", ErrNoRule, principal)
		}
		return name, nil
	}
	for _, ru := range r.rules {
		user, ok, err := ru.apply(realm, components, r.defaultRealm)
		if err != nil {
			return "", err
		}
		if ok {
			return user, nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrNoRule, principal)
}

// apply returns the user the rule maps the principal to, and whether it applies.
func (ru rule) apply(realm string, components []string, defaultRealm string) (string, bool, error) {
	if ru.isDefault {
		if defaultRealm != "" && realm == defaultRealm {
			return components[0], true, nil
		}
		return "", false, nil
	}
	if len(components) != ru.components {
		return "", false, nil
	}
	params := append([]string{realm}, components...)
	formatted, err := replaceParameters(ru.format, params)
	if err != nil {
		return "", false, fmt.Errorf("auth_to_local: %s: %w", ru.description, err)
	}
	if ru.match != nil && !ru.match.MatchString(formatted) {
		return "", false, nil
	}
	user := formatted
	if ru.from != nil {
		if ru.global {
			user = ru.from.ReplaceAllString(formatted, ru.to)
		} else if loc := ru.from.FindStringSubmatchIndex(formatted); loc != nil {
			var dst []byte
			dst = ru.from.ExpandString(dst, ru.to, formatted, loc)
			user = formatted[:loc[0]] + string(dst) + formatted[loc[1]:]
		}
	}
	if ru.lower {
		user = strings.ToLower(user)
	}
	if user == "" || strings.ContainsAny(user, "@/") {
		return "", false, fmt.Errorf("%w: %q after rule %s is not a simple name", ErrNoRule, user, ru.description)
	}
	return user, true, nil
}

// replaceParameters substitutes $0 (the realm) and $1.. (the components) in format, as Hadoop does.
func replaceParameters(format string, params []string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '$' || i+1 >= len(format) || format[i+1] < '0' || format[i+1] > '9' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(format) && format[j] >= '0' && format[j] <= '9' {
			j++
		}
		n, _ := strconv.Atoi(format[i+1 : j])
		if n >= len(params) {
			return "", fmt.Errorf("format %q names $%d, but the principal has %d components", format, n, len(params)-1)
		}
		b.WriteString(params[n])
		i = j - 1
	}
	return b.String(), nil
}

// javaReplacement turns a Java replacement string ($1 and \x escapes) into Go's Expand syntax (${1}, $$).
func javaReplacement(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(s[i])
			}
		case c == '$' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			b.WriteString("${" + s[i+1:j] + "}")
			i = j - 1
		case c == '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\n\t "); i >= 0 {
		return s[:i]
	}
	return s
}
