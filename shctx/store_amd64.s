#include "textflag.h"

// func storeOrdered(p *uint32, v uint32)
TEXT ·storeOrdered(SB), NOSPLIT, $0-12
	MOVQ p+0(FP), AX
	MOVL v+8(FP), BX
	MOVL BX, (AX)
	RET
