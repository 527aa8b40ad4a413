package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropJSONConvertersMatchHAProxy: json_query, jwt_header_query and
// jwt_payload_query read the same values as haproxy's from the same
// documents and tokens, and give no sample where haproxy's give none.
func TestInteropJSONConvertersMatchHAProxy(t *testing.T) {
	doc := `{"a":"x","b":{"c":3},"n":12,"s":"12","f":1.5,"g":-0.25,"e":1e3,"t":true,"u":false,"z":null,"arr":[1,"two",{"k":"deep"}],"esc":"q\"e\u00e9","big":99999999999999999999}`
	tok := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAwMCwicm9sZXMiOlsiYSIsImIiXX0.sig"
	var cases []convCase
	for _, expr := range []string{
		"req.fhdr(x-in),json_query(\\$.a)", "req.fhdr(x-in),json_query(\\$.b.c)", "req.fhdr(x-in),json_query(\\$.n)",
		"req.fhdr(x-in),json_query(\\$.s,int)", "req.fhdr(x-in),json_query(\\$.f)", "req.fhdr(x-in),json_query(\\$.f,int)",
		"req.fhdr(x-in),json_query(\\$.g)", "req.fhdr(x-in),json_query(\\$.e)", "req.fhdr(x-in),json_query(\\$.t)",
		"req.fhdr(x-in),json_query(\\$.u)", "req.fhdr(x-in),json_query(\\$.z)", "req.fhdr(x-in),json_query(\\$.arr[1])",
		"req.fhdr(x-in),json_query(\\$.arr[2].k)", "req.fhdr(x-in),json_query(\\$.arr[7])", "req.fhdr(x-in),json_query(\\$.b)",
		"req.fhdr(x-in),json_query(\\$.missing)", "req.fhdr(x-in),json_query(\\$.big,int)", "req.fhdr(x-in),json_query(\\$.esc)",
	} {
		cases = append(cases, convCase{expr: expr, in: doc})
	}
	cases = append(cases, convCase{expr: "req.fhdr(x-in),json_query(\\$.a)", in: "not json"})
	for _, expr := range []string{
		"req.fhdr(x-in),jwt_header_query(\\$.alg)", "req.fhdr(x-in),jwt_payload_query(\\$.sub)",
		"req.fhdr(x-in),jwt_payload_query(\\$.exp,int)", "req.fhdr(x-in),jwt_payload_query(\\$.roles[1])",
	} {
		cases = append(cases, convCase{expr: expr, in: tok})
	}
	cases = append(cases, convCase{expr: "req.fhdr(x-in),jwt_payload_query(\\$.sub)", in: "two.parts"})
	want, got := convAnswers(t, cases, "")
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Contains(t, got, "req.fhdr(x-in),json_query(\\$.arr[2].k) => [deep]")
	require.Contains(t, got, "req.fhdr(x-in),jwt_payload_query(\\$.exp,int) => [1700000000]")
	for _, err := range convRefused(t, []string{"req.fhdr(x-in),json_query", "req.fhdr(x-in),json_query(\\$.a,float)"}) {
		require.NotEmpty(t, err)
	}
}
