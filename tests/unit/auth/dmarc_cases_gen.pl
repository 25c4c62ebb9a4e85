#!/usr/bin/perl
# dmarc_cases_gen.pl - generate DMARC cases and their verdicts from an
# independent implementation, Mail::DMARC::PurePerl (libmail-dmarc-perl),
# for test_dmarc.c:
#
#   perl dmarc_cases_gen.pl > dmarc-cases.txt
#
# Each case publishes a few TXT records (a scripted resolver answers
# Mail::DMARC from the same data the C test loads into the fake DNS) and
# gives the From domain, the SPF result and domain and the passing DKIM d=
# domains. Cases are drawn with a fixed seed: aligned and not, strict and
# relaxed, subdomains with and without sp=, pct 0 and 100, missing,
# broken, and multiple records. pct values other than 0 and 100 are not
# drawn (Mail::DMARC samples with rand(); test_dmarc.c covers them with an
# injected random source).
#
# Output, one case per block (tab-separated):
#   case <n> <from> <spf pass|fail> <spf domain> <dkim d=,d=|->
#   zone <fake.h line>
#   want <result> <disposition> <reason> <published|unpublished>
# Mail::DMARC reports "fail" for a record set that RFC 7489 6.6.3 says to
# not apply (several records, no valid p= or sp= and no valid rua=, a
# record it cannot parse): then no policy is published or the reason is
# "no valid rua"/"too many policies". The C test maps that to permerror.
use strict;
use warnings;
use Mail::DMARC::PurePerl;
use Net::DNS;

package ScriptedResolver;
sub new { my ($c, $zone) = @_; return bless { zone => $zone }, $c; }
sub _packet {
    my ($self, $name, $type) = @_;
    $name =~ s/\.$//;
    my $p = Net::DNS::Packet->new($name, $type);
    for my $rr (@{ $self->{zone}{lc $name} || [] }) {
        next if $rr->[0] ne $type;
        $p->push(answer => Net::DNS::RR->new("$name. 300 IN $type $rr->[1]"));
    }
    return $p;
}
sub send { my ($self, $name, $type) = @_; return $self->_packet($name, $type || 'A'); }
sub query {
    my ($self, $name, $type) = @_;
    my $p = $self->_packet($name, $type || 'A');
    return scalar($p->answer) ? $p : undef;
}
sub errorstring { return 'NOERROR'; }

package main;
srand(7489);

my @orgs = ('example.com', 'example.org', 'example.co.uk', 'example.net');
my @subs = ('', 'mail.', 'a.b.', 'news.');
sub pick { return $_[int(rand(@_))]; }
sub quote { my $s = shift; $s =~ s/(["\\])/\\$1/g; return "\"$s\""; }

sub record {
    my ($org) = @_;
    my $kind = int(rand(20));
    return 'v=DMARC1; p=bogus' if $kind == 0;
    # Not drawn: an invalid p= or sp= next to a valid rua=. RFC 7489 6.6.3
    # says to act as p=none; Mail::DMARC instead croaks (Policy->new on
    # p=bogus, validate() on the sp=bogus disposition). test_dmarc.c checks
    # those cases against the RFC itself.
    return "v=DMARC1; p=quarantine; sp=reject; pct=0" if $kind == 1;
    return 'v=DMARC1' if $kind == 2;
    return "v=DMARC1; rua=mailto:agg\@$org" if $kind == 3;
    return 'v=DMARC1; p=reject; sp=bogus' if $kind == 4;
    my @t = ('v=DMARC1', 'p=' . pick(qw(none quarantine reject)));
    push @t, 'sp=' . pick(qw(none quarantine reject)) if rand() < 0.5;
    push @t, 'pct=' . pick(0, 100) if rand() < 0.4;
    push @t, 'adkim=' . pick(qw(r s)) if rand() < 0.4;
    push @t, 'aspf=' . pick(qw(r s)) if rand() < 0.4;
    push @t, "rua=mailto:agg\@$org" if rand() < 0.3;
    push @t, 'fo=1' if rand() < 0.2;
    push @t, 'ri=3600' if rand() < 0.1;
    push @t, 'x-unknown=whatever' if rand() < 0.1;
    my $s = join(pick('; ', ';', ' ; '), @t);
    $s .= ';' if rand() < 0.3;
    return $s;
}

for my $n (1 .. 400) {
    my $org = pick(@orgs);
    my $from = pick(@subs) . $org;
    my %zone;
    for my $d ($org, $from) { push @{ $zone{$d} }, ['A', '192.0.2.1'] unless $zone{$d}; }
    # where records live
    my $place = rand();
    my @at = $place < 0.15 ? () : $place < 0.5 ? ($from) : $place < 0.8 ? ($org)
        : $place < 0.95 ? ($from, $org) : ($org, $org);
    for my $d (@at) {
        push @{ $zone{"_dmarc.$d"} }, ['TXT', quote(record($org))];
    }
    push @{ $zone{"_dmarc.$from"} }, ['TXT', quote('v=spf1 -all')] if rand() < 0.1;
    push @{ $zone{"_dmarc.$org"} }, ['TXT', quote("some other text")] if rand() < 0.1;
    # identifiers
    my $other = pick(grep { $_ ne $org } @orgs);
    my $spf_pass = rand() < 0.5 ? 'pass' : 'fail';
    my $spf_dom = pick($from, $org, "bounce.$org", $other, "x.$other");
    my @dkim;
    for (1 .. int(rand(3))) { push @dkim, pick($from, $org, "sel.$org", $other); }

    my $d = Mail::DMARC::PurePerl->new;
    $d->set_resolver(ScriptedResolver->new(\%zone));
    $d->source_ip('192.0.2.9');
    $d->envelope_to('example.net');
    $d->envelope_from($spf_dom);
    $d->header_from($from);
    $d->spf([{ domain => $spf_dom, scope => 'mfrom', result => $spf_pass }]);
    $d->dkim([map { { domain => $_, selector => 's1', result => 'pass' } } @dkim]);
    my $r = $d->validate;
    my $reason = '';
    if ($r->reason && @{ $r->reason }) { $reason = $r->reason->[0]->comment // ''; }
    $reason =~ s/[\t\n].*//s;
    $reason = '-' if $reason eq '';
    print join("\t", 'case', $n, $from, $spf_pass, $spf_dom, @dkim ? join(',', @dkim) : '-'), "\n";
    for my $name (sort keys %zone) {
        for my $rr (@{ $zone{$name} }) { print "zone\t$name $rr->[0] $rr->[1]\n"; }
    }
    my $published = eval { $r->published } ? 'published' : 'unpublished';
    print join("\t", 'want', $r->result, $r->disposition, $reason, $published), "\n";
}
