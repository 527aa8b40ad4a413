package h1

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"
)

// BenchmarkParseRequestNetHTTP parses the same request with net/http, the
// parser behind httputil.ReverseProxy, for a side-by-side figure.
func BenchmarkParseRequestNetHTTP(b *testing.B) {
	rd := bytes.NewReader(typicalRequest)
	br := bufio.NewReaderSize(rd, 4096)
	b.SetBytes(int64(len(typicalRequest)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(typicalRequest)
		br.Reset(rd)
		if _, err := http.ReadRequest(br); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseResponseNetHTTP is the net/http figure for the response.
func BenchmarkParseResponseNetHTTP(b *testing.B) {
	rd := bytes.NewReader(typicalResponse)
	br := bufio.NewReaderSize(rd, 4096)
	b.SetBytes(int64(len(typicalResponse)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(typicalResponse)
		br.Reset(rd)
		if _, err := http.ReadResponse(br, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSerialiseRequestNetHTTP writes the parsed request back with
// net/http.
func BenchmarkSerialiseRequestNetHTTP(b *testing.B) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(typicalRequest)))
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := req.Write(&buf); err != nil {
			b.Fatal(err)
		}
	}
}
