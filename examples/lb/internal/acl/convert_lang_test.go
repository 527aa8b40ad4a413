package acl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPreferredLanguage(t *testing.T) {
	for al, want := range map[string]string{
		"da, en-gb;q=0.8, en;q=0.7": "en-gb", "en;q=0.2, fr;q=0.3": "fr", "fr;q=0.5, en;q=0.5": "fr",
		"en;level=1;q=0.2, fr;q=0.3": "en", "en;q=.1, fr;q=0.5": "en", "de;q=0": "", "en x, fr;q=0.2": "fr", "EN": "",
	} {
		require.Equal(t, want, preferredLanguage(al, []string{"fr", "en-gb", "en"}), al)
	}
	require.Equal(t, "dflt", convOn(t, "str(de),language(en;fr,dflt)"))
	require.Equal(t, "<none>", convOn(t, "str(de),language(en;fr)"))
}
