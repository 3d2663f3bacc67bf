// Package config loads a part's typed configuration from, in rising precedence: the defaults in code, a
// config file (--config or MARQUEE_CONFIG), MARQUEE_* environment variables, and flags. Viper is used here and
// nowhere else. A config is a flat struct whose fields carry a `key` tag (the flag is the key with - for _, the
// environment variable MARQUEE_ and the key in upper case), a `usage` tag, and `secret:"true"` where the value
// must never be printed.
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

// Flags adds one flag per field of cfg (a pointer to a struct) to fs, defaulting to the field's current
// value, plus --config.
func Flags(fs *pflag.FlagSet, cfg any) {
	if fs.Lookup("config") == nil {
		fs.String("config", "", "config file (YAML, JSON or TOML); env "+EnvPrefix+"CONFIG")
	}
	for _, f := range fields(cfg) {
		name := flagName(f.key)
		if fs.Lookup(name) != nil {
			continue
		}
		usage := f.usage + " (env " + EnvName(f.key) + ")"
		switch v := f.value.Addr().Interface().(type) {
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
			panic(fmt.Sprintf("config: field %s has unsupported type %T", f.key, v)) // a programming error
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
	fl := fields(cfg)
	for _, f := range fl {
		v.SetDefault(f.key, f.value.Interface())
		if pf := fs.Lookup(flagName(f.key)); pf != nil {
			if err := v.BindPFlag(f.key, pf); err != nil {
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
	for _, f := range fl {
		if s, ok := lookup(getenv, EnvName(f.key)); ok {
			env[f.key] = s
		}
	}
	if err := v.MergeConfigMap(env); err != nil {
		return fmt.Errorf("read environment: %w", err)
	}
	if err := v.Unmarshal(cfg, func(dc *mapstructure.DecoderConfig) {
		dc.TagName = "key"
		dc.ErrorUnused = false
	}); err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	if val, ok := cfg.(Validator); ok {
		if err := val.Validate(); err != nil {
			return fmt.Errorf("invalid config: %w", err)
		}
	}
	return nil
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
	for _, f := range fields(cfg) {
		val := fmt.Sprint(f.value.Interface())
		if f.secret && val != "" {
			val = "***"
		}
		lines = append(lines, f.key+"="+val)
	}
	sort.Strings(lines)
	return strings.Join(lines, " ")
}

// EnvName is the environment variable for a config key.
func EnvName(key string) string { return EnvPrefix + strings.ToUpper(key) }

func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

type field struct {
	key, usage string
	secret     bool
	value      reflect.Value
}

func fields(cfg any) []field {
	rv := reflect.ValueOf(cfg)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		panic(errors.New("config: cfg must be a pointer to a struct")) // a programming error
	}
	rv = rv.Elem()
	var out []field
	for i := 0; i < rv.NumField(); i++ {
		sf := rv.Type().Field(i)
		key := sf.Tag.Get("key")
		if key == "" || key == "-" {
			continue
		}
		out = append(out, field{key: key, usage: sf.Tag.Get("usage"), secret: sf.Tag.Get("secret") == "true", value: rv.Field(i)})
	}
	return out
}
