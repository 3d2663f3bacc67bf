// Package config loads a part's typed configuration from, in rising precedence: the defaults in code, a
// config file (--config or MARQUEE_CONFIG), MARQUEE_* environment variables, and flags. Viper is used here and
// nowhere else. A config is a struct whose fields carry a `key` tag (the flag is the key with - for _, the
// environment variable MARQUEE_ and the key in upper case), a `usage` tag, and `secret:"true"` where the value
// must never be printed.
//
// A struct field with a `prefix` tag is a part of the config: its settings are the config's too, under their
// keys with the prefix in front (`prefix:"rank_"` makes a part's title setting rank_title; `prefix:""` takes
// its keys as they are). `omit:"addr,nats_url"` beside it leaves out the part's settings that the enclosing
// config decides itself (keys as the part names them). Every key stays flat: one flag, one environment
// variable and one top-level file key each, whatever the nesting. Fields of one config with the same key,
// such as one setting of two parts, are one setting: they must have the same type and default, and they get
// the same value. Load validates only the config it is given; a config validates its parts if it wants.
package config

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// EnvPrefix starts every environment variable Marquee reads.
const EnvPrefix = "MARQUEE_"

// Validator is implemented by configs that check themselves after loading.
type Validator interface{ Validate() error }

// Flags adds one flag per setting of cfg (a pointer to a struct) to fs, defaulting to the setting's current
// value, plus --config. It panics if fields that share a key hold different defaults.
func Flags(fs *pflag.FlagSet, cfg any) {
	if fs.Lookup("config") == nil {
		fs.String("config", "", "config file (YAML, JSON or TOML); env "+EnvPrefix+"CONFIG")
	}
	for _, s := range settings(cfg) {
		for _, f := range s.fields[1:] {
			if !reflect.DeepEqual(f.Interface(), s.fields[0].Interface()) {
				panic(fmt.Sprintf("config: the fields of key %s differ in default (%#v, %#v)", s.key, s.fields[0].Interface(), f.Interface())) // a programming error
			}
		}
		name := flagName(s.key)
		if fs.Lookup(name) != nil {
			continue
		}
		usage := s.usage + " (env " + EnvName(s.key) + ")"
		// The flag writes the setting's first field; Load copies the value to the others.
		switch v := s.fields[0].Addr().Interface().(type) {
		case *string:
			fs.StringVar(v, name, *v, usage)
		case *bool:
			fs.BoolVar(v, name, *v, usage)
		case *int:
			fs.IntVar(v, name, *v, usage)
		case *int64:
			fs.Int64Var(v, name, *v, usage)
		case *float64:
			fs.Float64Var(v, name, *v, usage)
		case *time.Duration:
			fs.DurationVar(v, name, *v, usage)
		case *[]string:
			fs.StringSliceVar(v, name, *v, usage)
		default:
			panic(fmt.Sprintf("config: field %s has unsupported type %T", s.key, v)) // a programming error
		}
	}
}

// Parse is the whole of a service binary's configuration step: it parses args (without the program name)
// as the flags of cfg, refuses positional arguments, and loads cfg. With --help it prints the usage to out
// and returns pflag.ErrHelp.
func Parse(name string, args []string, cfg any, getenv func(string) string, out io.Writer) error {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(out)
	Flags(fs, cfg)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see %s --help)", fs.Arg(0), name)
	}
	return Load(fs, cfg, getenv)
}

// Load fills cfg from the parsed flag set, the environment (read through getenv) and the config file, then
// validates it. Fields keep their current values as defaults.
func Load(fs *pflag.FlagSet, cfg any, getenv func(string) string) error {
	v := viper.New()
	ss := settings(cfg)
	for _, s := range ss {
		v.SetDefault(s.key, s.fields[0].Interface())
		if pf := fs.Lookup(flagName(s.key)); pf != nil {
			if err := v.BindPFlag(s.key, pf); err != nil {
				return fmt.Errorf("bind flag %s: %w", pf.Name, err)
			}
		}
	}
	file := getenv(EnvPrefix + "CONFIG")
	if pf := fs.Lookup("config"); pf != nil && pf.Changed {
		file = pf.Value.String()
	}
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("read config file %s: %w", file, err)
		}
	}
	// Environment variables go in as a layer above the file; flags stay above both.
	env := map[string]any{}
	for _, s := range ss {
		if val, ok := lookup(getenv, EnvName(s.key)); ok {
			env[s.key] = val
		}
	}
	if err := v.MergeConfigMap(env); err != nil {
		return fmt.Errorf("read environment: %w", err)
	}
	// Viper decodes into a flat struct of one field a setting, so the decoding (and its error messages) is
	// the same whether a setting lives at the top of cfg or in a part; then each value goes to its fields.
	flat := flatten(ss)
	if err := v.Unmarshal(flat.Addr().Interface(), func(dc *mapstructure.DecoderConfig) {
		dc.TagName = "key"
		dc.ErrorUnused = false
	}); err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	for i, s := range ss {
		for _, f := range s.fields {
			f.Set(flat.Field(i))
		}
	}
	if val, ok := cfg.(Validator); ok {
		if err := val.Validate(); err != nil {
			return fmt.Errorf("invalid config: %w", err)
		}
	}
	return nil
}

// flatten returns a struct with one field a setting, tagged with its key and holding its current value.
func flatten(ss []*setting) reflect.Value {
	sfs := make([]reflect.StructField, len(ss))
	for i, s := range ss {
		sfs[i] = reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: s.fields[0].Type(), Tag: reflect.StructTag(`key:"` + s.key + `"`)}
	}
	flat := reflect.New(reflect.StructOf(sfs)).Elem()
	for i, s := range ss {
		flat.Field(i).Set(s.fields[0])
	}
	return flat
}

// lookup treats an empty variable as unset unless the caller's getenv distinguishes them; "" is still a
// meaningful value for a few keys (for example --seed ""), which only flags and files can express.
func lookup(getenv func(string) string, name string) (string, bool) {
	s := getenv(name)
	return s, s != ""
}

// String renders cfg as key=value lines for a start-up log, with secrets masked.
func String(cfg any) string {
	var lines []string
	for _, s := range settings(cfg) {
		val := fmt.Sprint(s.fields[0].Interface())
		if s.secret && val != "" {
			val = "***"
		}
		lines = append(lines, s.key+"="+val)
	}
	sort.Strings(lines)
	return strings.Join(lines, " ")
}

// EnvName is the environment variable for a config key.
func EnvName(key string) string { return EnvPrefix + strings.ToUpper(key) }

func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

// A setting is one key of a config and the fields that hold it (several, when parts share it).
type setting struct {
	key, usage string
	secret     bool // any of its fields is secret
	fields     []reflect.Value
}

// settings lists the settings of cfg, a pointer to a struct, in the order their first fields are declared.
func settings(cfg any) []*setting {
	rv := reflect.ValueOf(cfg)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		panic(errors.New("config: cfg must be a pointer to a struct")) // a programming error
	}
	var out []*setting
	byKey := map[string]*setting{}
	for _, f := range keyed(rv.Elem()) {
		s := byKey[f.key]
		if s == nil {
			s = &setting{key: f.key, usage: f.tag.Get("usage")}
			byKey[f.key] = s
			out = append(out, s)
		} else if first := s.fields[0]; first.Type() != f.value.Type() {
			panic(fmt.Sprintf("config: the fields of key %s differ in type (%s, %s)", f.key, first.Type(), f.value.Type())) // a programming error
		}
		s.secret = s.secret || f.tag.Get("secret") == "true"
		s.fields = append(s.fields, f.value)
	}
	return out
}

// A keyedField is a field of a config with a key tag, found at any depth of its parts.
type keyedField struct {
	key   string // the whole key, the prefixes of the parts it is in included
	tag   reflect.StructTag
	value reflect.Value
}

// keyed lists the keyed fields of the struct rv and of its parts, depth first, in declaration order.
func keyed(rv reflect.Value) []keyedField {
	var out []keyedField
	for i := 0; i < rv.NumField(); i++ {
		sf := rv.Type().Field(i)
		prefix, isPart := sf.Tag.Lookup("prefix")
		if !isPart {
			if key := sf.Tag.Get("key"); key != "" && key != "-" {
				out = append(out, keyedField{key: key, tag: sf.Tag, value: rv.Field(i)})
			}
			continue
		}
		if sf.Type.Kind() != reflect.Struct {
			panic(fmt.Sprintf("config: part %s is a %s, not a struct", sf.Name, sf.Type)) // a programming error
		}
		omit := map[string]bool{} // key → some field has it
		for _, k := range strings.Split(sf.Tag.Get("omit"), ",") {
			if k = strings.TrimSpace(k); k != "" {
				omit[k] = false
			}
		}
		for _, f := range keyed(rv.Field(i)) {
			if _, ok := omit[f.key]; ok {
				omit[f.key] = true
				continue
			}
			f.key = prefix + f.key
			out = append(out, f)
		}
		for k, found := range omit {
			if !found {
				panic(fmt.Sprintf("config: part %s omits %s, which it does not have", sf.Name, k)) // a programming error
			}
		}
	}
	return out
}
