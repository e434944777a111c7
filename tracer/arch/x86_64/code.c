/*
 * x86-64 instructions for the strategies (tracer/arch.h): decoding and relocation are
 * reloc/x86_64.c's, on Zydis; this binds them to the arch_* names the strategies call.
 */
#include "tracer/arch.h"

int arch_insn_len(const uint8_t *code, size_t avail)
{
	return reloc_x86_64_insn_len(code, avail);
}

int arch_insn_info(const uint8_t *code, size_t avail, uint64_t addr,
		   struct reloc_insn_info *info)
{
	return reloc_x86_64_insn_info(code, avail, addr, info);
}

int arch_relocate(const uint8_t *src, size_t src_avail, uint64_t src_addr, size_t min_len,
		  uint8_t *dst, size_t dst_cap, uint64_t dst_addr, uint64_t resume_addr,
		  const struct reloc_links *links, struct reloc_result *rr)
{
	return reloc_x86_64_linked(src, src_avail, src_addr, min_len, dst, dst_cap, dst_addr,
				   resume_addr, links, rr);
}

size_t arch_jump(uint8_t *dst, size_t dst_cap, uint64_t dst_addr, uint64_t target)
{
	return reloc_x86_64_jump(dst, dst_cap, dst_addr, target);
}
