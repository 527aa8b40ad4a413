package acl

import "fmt"

// Configuration-time type checks of converter chains, as HAProxy makes
// them: each fetch and converter declares the type it returns, each
// converter the type it takes, and a converter whose input type cannot
// be cast from what comes before it is refused at start ("converter 'X'
// cannot be applied") instead of leaving no sample at run time. The
// declared types are HAProxy 2.6's (haproxy -dKsmp and -dKcnv list
// them); lb's own sample types are coarser (no binary, method or IPv6
// type), hence these tables.

// smpType is a sample type as HAProxy declares it.
type smpType uint8

const (
	hAny smpType = iota
	hBool
	hSint
	hAddr
	hIPv4
	hIPv6
	hStr
	hBin
	hMeth
)

var smpTypeNames = [...]string{"any", "bool", "sint", "addr", "ipv4", "ipv6", "str", "bin", "meth"}

// String names the type as haproxy -dK does.
func (t smpType) String() string { return smpTypeNames[t] }

// smpCastable says which declared type may be cast to which, HAProxy
// 2.6's cast matrix (from, then to): a declared address (a map's _ip
// output) casts to nothing but "any".
var smpCastable = [9][9]bool{
	hAny:  {true, true, true, true, true, true, true, true, true},
	hBool: {hAny: true, hBool: true, hSint: true, hStr: true, hBin: true},
	hSint: {hAny: true, hBool: true, hSint: true, hAddr: true, hIPv4: true, hIPv6: true, hStr: true, hBin: true},
	hAddr: {hAny: true},
	hIPv4: {hAny: true, hSint: true, hAddr: true, hIPv4: true, hIPv6: true, hStr: true, hBin: true},
	hIPv6: {hAny: true, hAddr: true, hIPv4: true, hIPv6: true, hStr: true, hBin: true},
	hStr:  {true, true, true, true, true, true, true, true, true},
	hBin:  {hAny: true, hStr: true, hBin: true, hMeth: true},
	hMeth: {hAny: true, hStr: true, hBin: true, hMeth: true},
}

// fetchSmpTypes are the fetches whose declared type is not the one
// their lb type implies (bool, sint, ipv4, str).
var fetchSmpTypes = map[string]smpType{
	"base32+src":            hBin,
	"bc_dst":                hSint,
	"bc_src":                hSint,
	"ipv6":                  hIPv6,
	"meth":                  hMeth,
	"method":                hMeth,
	"payload":               hBin,
	"payload_lv":            hBin,
	"req.body":              hBin,
	"req.body_param":        hBin,
	"req.hdrs":              hBin,
	"req.hdrs_bin":          hBin,
	"req.payload":           hBin,
	"req.payload_lv":        hBin,
	"res.body":              hBin,
	"res.hdrs":              hBin,
	"res.hdrs_bin":          hBin,
	"ssl_c_chain_der":       hBin,
	"ssl_c_der":             hBin,
	"ssl_c_serial":          hBin,
	"ssl_c_sha1":            hBin,
	"ssl_f_der":             hBin,
	"ssl_f_serial":          hBin,
	"ssl_f_sha1":            hBin,
	"ssl_fc_cipherlist_hex": hBin,
	"ssl_s_chain_der":       hBin,
	"ssl_s_der":             hBin,
	"ssl_s_serial":          hBin,
	"ssl_s_sha1":            hBin,
	"url32+src":             hBin,
	"var":                   hAny,
}

// fetchSmpType is the type HAProxy declares for fetch f.
func fetchSmpType(f Fetch) smpType {
	if t, ok := fetchSmpTypes[f.Name]; ok {
		return t
	}
	switch f.Type {
	case TypeBool:
		return hBool
	case TypeInt:
		return hSint
	case TypeIP:
		return hIPv4
	}
	return hStr
}

// convSmpTypes are the types each converter takes and returns, as
// HAProxy 2.6 declares them.
var convSmpTypes = map[string][2]smpType{
	"add":                  {hSint, hSint},
	"add_item":             {hStr, hStr},
	"aes_gcm_dec":          {hBin, hBin},
	"and":                  {hSint, hSint},
	"b64dec":               {hStr, hBin},
	"base64":               {hBin, hStr},
	"be2dec":               {hBin, hStr},
	"be2hex":               {hBin, hStr},
	"bool":                 {hSint, hBool},
	"bytes":                {hBin, hBin},
	"capture-req":          {hStr, hStr},
	"capture-res":          {hStr, hStr},
	"concat":               {hStr, hStr},
	"cpl":                  {hSint, hSint},
	"crc32":                {hBin, hSint},
	"crc32c":               {hBin, hSint},
	"cut_crlf":             {hStr, hStr},
	"debug":                {hAny, hAny},
	"digest":               {hBin, hBin},
	"div":                  {hSint, hSint},
	"djb2":                 {hBin, hSint},
	"even":                 {hSint, hBool},
	"field":                {hStr, hStr},
	"fix_is_valid":         {hBin, hBool},
	"fix_tag_value":        {hBin, hBin},
	"hex":                  {hBin, hStr},
	"hex2i":                {hStr, hSint},
	"hmac":                 {hBin, hBin},
	"host_only":            {hStr, hStr},
	"htonl":                {hSint, hBin},
	"http_date":            {hSint, hStr},
	"iif":                  {hBool, hStr},
	"in_table":             {hAny, hBool},
	"ipmask":               {hAddr, hIPv4},
	"json":                 {hStr, hStr},
	"json_query":           {hStr, hAny},
	"jwt_header_query":     {hBin, hAny},
	"jwt_payload_query":    {hBin, hAny},
	"jwt_verify":           {hBin, hSint},
	"language":             {hStr, hStr},
	"length":               {hStr, hSint},
	"lower":                {hStr, hStr},
	"ltime":                {hSint, hStr},
	"ltrim":                {hStr, hStr},
	"map":                  {hStr, hStr},
	"map_beg":              {hStr, hStr},
	"map_beg_int":          {hStr, hSint},
	"map_beg_ip":           {hStr, hAddr},
	"map_dir":              {hStr, hStr},
	"map_dir_int":          {hStr, hSint},
	"map_dir_ip":           {hStr, hAddr},
	"map_dom":              {hStr, hStr},
	"map_dom_int":          {hStr, hSint},
	"map_dom_ip":           {hStr, hAddr},
	"map_end":              {hStr, hStr},
	"map_end_int":          {hStr, hSint},
	"map_end_ip":           {hStr, hAddr},
	"map_int":              {hSint, hStr},
	"map_int_int":          {hSint, hSint},
	"map_int_ip":           {hSint, hAddr},
	"map_ip":               {hAddr, hStr},
	"map_ip_int":           {hAddr, hSint},
	"map_ip_ip":            {hAddr, hAddr},
	"map_reg":              {hStr, hStr},
	"map_reg_int":          {hStr, hSint},
	"map_reg_ip":           {hStr, hAddr},
	"map_regm":             {hStr, hStr},
	"map_str":              {hStr, hStr},
	"map_str_int":          {hStr, hSint},
	"map_str_ip":           {hStr, hAddr},
	"map_sub":              {hStr, hStr},
	"map_sub_int":          {hStr, hSint},
	"map_sub_ip":           {hStr, hAddr},
	"mod":                  {hSint, hSint},
	"mqtt_field_value":     {hBin, hStr},
	"mqtt_is_valid":        {hBin, hBool},
	"mul":                  {hSint, hSint},
	"nbsrv":                {hStr, hSint},
	"neg":                  {hSint, hSint},
	"not":                  {hSint, hBool},
	"odd":                  {hSint, hBool},
	"or":                   {hSint, hSint},
	"port_only":            {hStr, hSint},
	"protobuf":             {hBin, hBin},
	"regsub":               {hStr, hStr},
	"rtrim":                {hStr, hStr},
	"sdbm":                 {hBin, hSint},
	"secure_memcmp":        {hBin, hBool},
	"set-var":              {hAny, hAny},
	"sha1":                 {hBin, hBin},
	"sha2":                 {hBin, hBin},
	"srv_queue":            {hStr, hSint},
	"strcmp":               {hStr, hSint},
	"sub":                  {hSint, hSint},
	"table_bytes_in_rate":  {hAny, hSint},
	"table_bytes_out_rate": {hAny, hSint},
	"table_conn_cnt":       {hAny, hSint},
	"table_conn_cur":       {hAny, hSint},
	"table_conn_rate":      {hAny, hSint},
	"table_expire":         {hAny, hSint},
	"table_gpc":            {hAny, hSint},
	"table_gpc0":           {hAny, hSint},
	"table_gpc0_rate":      {hAny, hSint},
	"table_gpc1":           {hAny, hSint},
	"table_gpc1_rate":      {hAny, hSint},
	"table_gpc_rate":       {hAny, hSint},
	"table_gpt":            {hAny, hSint},
	"table_gpt0":           {hAny, hSint},
	"table_http_err_cnt":   {hAny, hSint},
	"table_http_err_rate":  {hAny, hSint},
	"table_http_fail_cnt":  {hAny, hSint},
	"table_http_fail_rate": {hAny, hSint},
	"table_http_req_cnt":   {hAny, hSint},
	"table_http_req_rate":  {hAny, hSint},
	"table_idle":           {hAny, hSint},
	"table_kbytes_in":      {hAny, hSint},
	"table_kbytes_out":     {hAny, hSint},
	"table_server_id":      {hAny, hSint},
	"table_sess_cnt":       {hAny, hSint},
	"table_sess_rate":      {hAny, hSint},
	"table_trackers":       {hAny, hSint},
	"ub64dec":              {hStr, hBin},
	"ub64enc":              {hBin, hStr},
	"ungrpc":               {hBin, hBin},
	"unset-var":            {hAny, hAny},
	"upper":                {hStr, hStr},
	"url_dec":              {hStr, hStr},
	"url_enc":              {hStr, hStr},
	"utime":                {hSint, hStr},
	"word":                 {hStr, hStr},
	"wt6":                  {hBin, hSint},
	"xor":                  {hSint, hSint},
	"xxh3":                 {hBin, hSint},
	"xxh32":                {hBin, hSint},
	"xxh64":                {hBin, hSint},
}

// convSmpType returns the types converter name takes and returns; lb's
// map_<match>_str spellings are map_<match>'s.
func convSmpType(name string) ([2]smpType, bool) {
	if t, ok := convSmpTypes[name]; ok {
		return t, true
	}
	if len(name) > 4 && name[len(name)-4:] == "_str" {
		t, ok := convSmpTypes[name[:len(name)-4]]
		return t, ok
	}
	return [2]smpType{}, false
}

// checkConvType refuses converter name after a sample of declared type
// t, as HAProxy does, and returns the type the converter leaves.
func checkConvType(name string, t smpType) (smpType, error) {
	ct, ok := convSmpType(name)
	if !ok {
		return hAny, nil
	}
	if !smpCastable[t][ct[0]] {
		return 0, &ConvTypeError{Conv: name, From: t, To: ct[0]}
	}
	return ct[1], nil
}

// ConvTypeError is a converter that cannot take the type of the sample
// before it; its text is HAProxy's.
type ConvTypeError struct {
	Conv     string
	From, To smpType
}

// Error returns HAProxy's words for it.
func (e *ConvTypeError) Error() string {
	return fmt.Sprintf("converter '%s' cannot be applied", e.Conv)
}
