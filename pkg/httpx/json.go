package httpx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"marquee/pkg/apperr"
)

// MaxBodyBytes is the default limit on a JSON request body.
const MaxBodyBytes = 1 << 20

// JSONContentType is the media type that JSON request bodies must declare.
const JSONContentType = "application/json"

// DecodeJSON reads one JSON value from r's body into v strictly, after checking that the body is declared
// as application/json (415 otherwise). The decoding rules are UnmarshalStrict's; bodies over limit bytes
// are TooLarge.
func DecodeJSON(r *http.Request, limit int64, v any) error {
	if err := RequireContentType(r, JSONContentType); err != nil {
		return err
	}
	if limit <= 0 {
		limit = MaxBodyBytes
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) { // a limit set further out, e.g. by the gateway
		return apperr.Errorf(apperr.TooLarge, "The request body is over %d bytes.", tooLarge.Limit)
	}
	if err != nil {
		return apperr.Errorf(apperr.Invalid, "The request body could not be read.")
	}
	if int64(len(body)) > limit {
		return apperr.Errorf(apperr.TooLarge, "The request body is over %d bytes.", limit)
	}
	return UnmarshalStrict(body, v)
}

// RequireContentType checks that r declares its body as one of the media types allowed (parameters such
// as charset aside; a charset other than UTF-8 is refused too). Anything else, a missing Content-Type
// included, is an UnsupportedMedia error (415, RFC 9110 §15.5.16) that names the types accepted.
func RequireContentType(r *http.Request, allowed ...string) error {
	unsupported := apperr.Errorf(apperr.UnsupportedMedia, "Content-Type must be %s.", strings.Join(allowed, " or "))
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return unsupported
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return unsupported
	}
	for _, a := range allowed {
		if mt == a {
			return nil
		}
	}
	return unsupported
}

// UnmarshalStrict decodes data into v strictly: unknown fields, fields spelt in another case, duplicate
// fields, trailing data, invalid UTF-8 and unpaired surrogate escapes (\ud800) are all Invalid errors that
// say what is wrong, where encoding/json would ignore, merge or silently replace them.
func UnmarshalStrict(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return apperr.Errorf(apperr.Invalid, "The request body is empty; a JSON object is expected.")
	}
	if !utf8.Valid(data) {
		return apperr.Errorf(apperr.Invalid, "The request body is not valid UTF-8.")
	}
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	if err := json.UnmarshalDecode(dec, v, json.RejectUnknownMembers(true)); err != nil {
		return apperr.Errorf(apperr.Invalid, "The request body is not valid: %s.", describeJSONError(err))
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return apperr.Errorf(apperr.Invalid, "The request body has data after the JSON value.")
	}
	return nil
}

func describeJSONError(err error) string {
	var sem *json.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.Is(err, jsontext.ErrDuplicateName) && errors.As(err, &syn):
		return fmt.Sprintf("field %q appears more than once", syn.JSONPointer.LastToken())
	case errors.Is(err, json.ErrUnknownName) && errors.As(err, &sem):
		return fmt.Sprintf("unknown field %q (field names are case-sensitive)", sem.JSONPointer.LastToken())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early"
	case errors.As(err, &sem) && sem.GoType != nil:
		kind := jsonKind(sem.GoType)
		if errors.Is(sem.Err, strconv.ErrRange) {
			kind += " in range"
		}
		if sem.JSONPointer != "" {
			return fmt.Sprintf("field %q must be %s", strings.TrimPrefix(string(sem.JSONPointer), "/"), kind)
		}
		return "expected " + kind
	case errors.As(err, &syn):
		if strings.Contains(syn.Err.Error(), "surrogate") {
			return fmt.Sprintf("unpaired UTF-16 surrogate escape at byte %d", syn.ByteOffset)
		}
		return fmt.Sprintf("malformed JSON at byte %d", syn.ByteOffset)
	default:
		return "malformed JSON"
	}
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	default:
		return t.Kind().String()
	}
}
