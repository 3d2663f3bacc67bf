package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"marquee/pkg/apperr"
)

// MaxBodyBytes is the default limit on a JSON request body.
const MaxBodyBytes = 1 << 20

// DecodeJSON reads one JSON value from r's body into v strictly: unknown fields, trailing data, invalid
// UTF-8 and bodies over limit bytes are rejected with an Invalid or TooLarge error that says what is wrong.
// Invalid UTF-8 is checked before decoding because encoding/json silently replaces it.
func DecodeJSON(r *http.Request, limit int64, v any) error {
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

// UnmarshalStrict decodes data into v with the same rules as DecodeJSON.
func UnmarshalStrict(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return apperr.Errorf(apperr.Invalid, "The request body is empty; a JSON object is expected.")
	}
	if !utf8.Valid(data) {
		return apperr.Errorf(apperr.Invalid, "The request body is not valid UTF-8.")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apperr.Errorf(apperr.Invalid, "The request body is not valid: %s.", describeJSONError(err))
	}
	if dec.More() {
		return apperr.Errorf(apperr.Invalid, "The request body has data after the JSON value.")
	}
	return nil
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q must be %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return fmt.Sprintf("expected %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early"
	default:
		// encoding/json reports unknown fields as `json: unknown field "x"`.
		msg := err.Error()
		const prefix = "json: "
		if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
			msg = msg[len(prefix):]
		}
		return msg
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	default:
		return goKind
	}
}
