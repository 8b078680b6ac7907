//! T-SQL scripts as SQL Server Management Studio writes them, in UTF-16 and UTF-8, through the
//! table-of-contents parser. The samples are written here after the layouts of real SSMS output
//! (SSMS 2008's and SSMS 18-20's Generate Scripts, and a script without descriptive headers), one
//! piece per object, so that every object's range can be checked byte for byte.

use proptest::prelude::*;
use toc::tsql::TsqlScript;
use toc::{Kind, Section, Toc, TocParser};

const KEY: [u8; 32] = [5; 32];

/// What one object should be: kind, tool kind, database, schema, name, section, rows.
type Want = (Kind, &'static str, Option<&'static str>, Option<&'static str>, &'static str, Section, Option<u64>);

const PRE: Section = Section::PreData;
const DATA: Section = Section::Data;
const POST: Section = Section::PostData;
const SHOP: Option<&str> = Some("Shop");
const DBO: Option<&str> = Some("dbo");

/// SSMS 18-20, Generate Scripts of a whole database with schema and data: the database, its
/// user, schema, sequence and function, every table, a view, then every table's rows, indexes,
/// header-less defaults and constraints, procedures and triggers, and `USE [master]` at the end.
const SSMS_2019: &[(Want, &str)] = &[
    ((Kind::Preamble, "", None, None, "", PRE, None), "USE [master]\nGO\n"),
    ((Kind::Database, "Database", None, None, "Shop", PRE, None), "/****** Object:  Database [Shop]    Script Date: 12/7/2026 10:00:00 AM ******/
CREATE DATABASE [Shop]
 CONTAINMENT = NONE
 ON  PRIMARY 
( NAME = N'Shop', FILENAME = N'C:\\Program Files\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQL\\DATA\\Shop.mdf' , SIZE = 8192KB , FILEGROWTH = 65536KB )
 LOG ON 
( NAME = N'Shop_log', FILENAME = N'C:\\Program Files\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQL\\DATA\\Shop_log.ldf' , SIZE = 8192KB , FILEGROWTH = 65536KB )
 WITH CATALOG_COLLATION = DATABASE_DEFAULT, LEDGER = OFF
GO
ALTER DATABASE [Shop] SET COMPATIBILITY_LEVEL = 160
GO
IF (1 = FULLTEXTSERVICEPROPERTY('IsFullTextInstalled'))
begin
EXEC [Shop].[dbo].[sp_fulltext_database] @action = 'enable'
end
GO
ALTER DATABASE [Shop] SET ANSI_NULL_DEFAULT OFF 
GO
ALTER DATABASE [Shop] SET QUERY_STORE = ON
GO
USE [Shop]
GO
"),
    ((Kind::Other, "User", SHOP, None, "app", PRE, None), "/****** Object:  User [app]    Script Date: 12/7/2026 10:00:00 AM ******/
CREATE USER [app] FOR LOGIN [app] WITH DEFAULT_SCHEMA=[dbo]
GO
ALTER ROLE [db_datareader] ADD MEMBER [app]
GO
"),
    ((Kind::Schema, "Schema", SHOP, None, "sales", PRE, None), "/****** Object:  Schema [sales]    Script Date: 12/7/2026 10:00:00 AM ******/\nCREATE SCHEMA [sales]\nGO\n"),
    ((Kind::Sequence, "Sequence", SHOP, DBO, "OrderNumbers", PRE, None), "/****** Object:  Sequence [dbo].[OrderNumbers]    Script Date: 12/7/2026 10:00:00 AM ******/
CREATE SEQUENCE [dbo].[OrderNumbers] 
 AS [bigint]
 START WITH 1
 INCREMENT BY 1
 CACHE 
GO
"),
    ((Kind::Function, "UserDefinedFunction", SHOP, DBO, "Total", PRE, None), "/****** Object:  UserDefinedFunction [dbo].[Total]    Script Date: 12/7/2026 10:00:00 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE FUNCTION [dbo].[Total](@qty int, @price money)
RETURNS money
AS
BEGIN
\tRETURN @qty * @price
END
GO
"),
    ((Kind::Table, "Table", SHOP, DBO, "Customers", PRE, None), "/****** Object:  Table [dbo].[Customers]    Script Date: 12/7/2026 10:00:00 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TABLE [dbo].[Customers](
\t[Id] [int] IDENTITY(1,1) NOT NULL,
\t[Name] [nvarchar](100) NOT NULL,
 CONSTRAINT [PK_Customers] PRIMARY KEY CLUSTERED 
(
\t[Id] ASC
)WITH (PAD_INDEX = OFF, STATISTICS_NORECOMPUTE = OFF, IGNORE_DUP_KEY = OFF, ALLOW_ROW_LOCKS = ON, ALLOW_PAGE_LOCKS = ON, OPTIMIZE_FOR_SEQUENTIAL_KEY = OFF) ON [PRIMARY]
) ON [PRIMARY]
GO
"),
    ((Kind::Table, "Table", SHOP, DBO, "Orders", PRE, None), "/****** Object:  Table [dbo].[Orders]    Script Date: 12/7/2026 10:00:00 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TABLE [dbo].[Orders](
\t[Id] [int] NOT NULL,
\t[CustomerId] [int] NOT NULL,
\t[Qty] [int] NOT NULL,
\t[Note] [nvarchar](200) NULL,
\t[CreatedAt] [datetime2](7) NOT NULL,
PRIMARY KEY CLUSTERED 
(
\t[Id] ASC
)WITH (PAD_INDEX = OFF, STATISTICS_NORECOMPUTE = OFF, IGNORE_DUP_KEY = OFF, ALLOW_ROW_LOCKS = ON, ALLOW_PAGE_LOCKS = ON, OPTIMIZE_FOR_SEQUENTIAL_KEY = OFF) ON [PRIMARY]
) ON [PRIMARY]
GO
"),
    ((Kind::Table, "Table", SHOP, Some("sales"), "Order Lines", PRE, None), "/****** Object:  Table [sales].[Order Lines]    Script Date: 12/7/2026 10:00:00 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TABLE [sales].[Order Lines](
\t[OrderId] [int] NOT NULL,
\t[Sku] [varchar](20) NOT NULL
) ON [PRIMARY]
GO
"),
    ((Kind::View, "View", SHOP, DBO, "OpenOrders", PRE, None), "/****** Object:  View [dbo].[OpenOrders]    Script Date: 12/7/2026 10:00:00 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE VIEW [dbo].[OpenOrders] AS
SELECT o.[Id], c.[Name] FROM [dbo].[Orders] o JOIN [dbo].[Customers] c ON c.[Id] = o.[CustomerId]
GO
"),
    // A value holding a line `GO` and a header: no batch ends, no object opens.
    ((Kind::TableData, "TableData", SHOP, DBO, "Customers", DATA, Some(2)), "SET IDENTITY_INSERT [dbo].[Customers] ON 
GO
INSERT [dbo].[Customers] ([Id], [Name]) VALUES (1, N'Zürich AG')
GO
INSERT [dbo].[Customers] ([Id], [Name]) VALUES (2, N'it''s
GO
/****** Object:  Table [dbo].[Fake]    Script Date: 12/7/2026 10:00:00 AM ******/
INSERT [dbo].[Fake] ([Id]) VALUES (9)
not the end')
GO
SET IDENTITY_INSERT [dbo].[Customers] OFF
GO
"),
    ((Kind::TableData, "TableData", SHOP, DBO, "Orders", DATA, Some(3)), "INSERT [dbo].[Orders] ([Id], [CustomerId], [Qty], [Note], [CreatedAt]) VALUES (10, 1, 5, NULL, CAST(N'2026-12-07T10:00:00.0000000' AS DateTime2))
GO
INSERT [dbo].[Orders] ([Id], [CustomerId], [Qty], [Note], [CreatedAt]) VALUES (11, 2, 1, N'(urgent); -- call', CAST(N'2026-12-07T10:00:00.0000000' AS DateTime2))
GO
INSERT [dbo].[Orders] ([Id], [CustomerId], [Qty], [Note], [CreatedAt]) VALUES (12, 2, 7, N'[x]]', CAST(N'2026-12-07T10:00:00.0000000' AS DateTime2))
GO
"),
    ((Kind::TableData, "TableData", SHOP, Some("sales"), "Order Lines", DATA, Some(2)), "INSERT [sales].[Order Lines] ([OrderId], [Sku]) VALUES (10, 'A-1')
GO
INSERT [sales].[Order Lines] ([OrderId], [Sku]) VALUES (11, 'B-2')
GO
"),
    ((Kind::Index, "Index", SHOP, None, "IX_Orders_Note", POST, None), "SET ANSI_PADDING ON
GO
/****** Object:  Index [IX_Orders_Note]    Script Date: 12/7/2026 10:00:00 AM ******/
CREATE NONCLUSTERED INDEX [IX_Orders_Note] ON [dbo].[Orders]
(
\t[Note] ASC
)WITH (PAD_INDEX = OFF, STATISTICS_NORECOMPUTE = OFF, SORT_IN_TEMPDB = OFF, DROP_EXISTING = OFF, ONLINE = OFF, ALLOW_ROW_LOCKS = ON, ALLOW_PAGE_LOCKS = ON, OPTIMIZE_FOR_SEQUENTIAL_KEY = OFF) ON [PRIMARY]
GO
"),
    ((Kind::Default, "Default", SHOP, DBO, "Orders CreatedAt", POST, None), "ALTER TABLE [dbo].[Orders] ADD  DEFAULT (sysutcdatetime()) FOR [CreatedAt]\nGO\n"),
    ((Kind::ForeignKey, "ForeignKey", SHOP, DBO, "Orders FK_Orders_Customers", POST, None), "ALTER TABLE [dbo].[Orders]  WITH CHECK ADD  CONSTRAINT [FK_Orders_Customers] FOREIGN KEY([CustomerId])
REFERENCES [dbo].[Customers] ([Id])
GO
ALTER TABLE [dbo].[Orders] CHECK CONSTRAINT [FK_Orders_Customers]
GO
"),
    ((Kind::Constraint, "Check", SHOP, DBO, "Orders CK_Orders_Qty", POST, None), "ALTER TABLE [dbo].[Orders]  WITH CHECK ADD  CONSTRAINT [CK_Orders_Qty] CHECK  (([Qty]>(0)))
GO
ALTER TABLE [dbo].[Orders] CHECK CONSTRAINT [CK_Orders_Qty]
GO
"),
    // A procedure whose body holds a header, an INSERT and, in a comment, a line `GO`.
    ((Kind::Function, "StoredProcedure", SHOP, DBO, "Touch", POST, None), "/****** Object:  StoredProcedure [dbo].[Touch]    Script Date: 12/7/2026 10:00:00 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE PROCEDURE [dbo].[Touch] @id int
AS
BEGIN
/****** Object:  Table [dbo].[Fake]    Script Date: 12/7/2026 10:00:00 AM ******/
\tINSERT [dbo].[Fake] ([Id]) VALUES (@id)
\t/* a comment /* nested
GO
\t*/ still the comment */
\tUPDATE [dbo].[Orders] SET [Note] = N'touched' WHERE [Id] = @id
END
GO
"),
    ((Kind::Trigger, "Trigger", SHOP, DBO, "Orders_Audit", POST, None), "/****** Object:  Trigger [dbo].[Orders_Audit]    Script Date: 12/7/2026 10:00:00 AM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TRIGGER [dbo].[Orders_Audit] ON [dbo].[Orders] AFTER UPDATE AS
BEGIN
\tSET NOCOUNT ON;
END
GO
ALTER TABLE [dbo].[Orders] ENABLE TRIGGER [Orders_Audit]
GO
"),
    ((Kind::Trailer, "USE", None, None, "master", POST, None), "USE [master]\nGO\nALTER DATABASE [Shop] SET  READ_WRITE \nGO\n"),
];

/// SSMS 2008: each table's rows right after its definition, many INSERTs to a batch, the next
/// header right after the last; a header before the DROP and again before the CREATE; headers for
/// defaults, checks and foreign keys.
const SSMS_2008: &[(Want, &str)] = &[
    ((Kind::Preamble, "", None, None, "", PRE, None), "USE [Shop]\nGO\n"),
    ((Kind::Table, "Table", SHOP, DBO, "Customers", PRE, None), "/****** Object:  Table [dbo].[Customers]    Script Date: 05/29/2010 02:10:37 ******/
IF  EXISTS (SELECT * FROM sys.objects WHERE object_id = OBJECT_ID(N'[dbo].[Customers]') AND type in (N'U'))
DROP TABLE [dbo].[Customers]
GO
/****** Object:  Table [dbo].[Customers]    Script Date: 05/29/2010 02:10:37 ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
SET ANSI_PADDING ON
GO
CREATE TABLE [dbo].[Customers](
\t[Id] [int] IDENTITY(1,1) NOT NULL,
\t[Code] [varchar](10) NOT NULL,
 CONSTRAINT [PK_Customers] PRIMARY KEY CLUSTERED 
(
\t[Id] ASC
)WITH (PAD_INDEX  = OFF, STATISTICS_NORECOMPUTE  = OFF, IGNORE_DUP_KEY = OFF, ALLOW_ROW_LOCKS  = ON, ALLOW_PAGE_LOCKS  = ON) ON [PRIMARY]
) ON [PRIMARY]
GO
SET ANSI_PADDING OFF
GO
"),
    ((Kind::TableData, "TableData", SHOP, DBO, "Customers", DATA, Some(2)), "SET IDENTITY_INSERT [dbo].[Customers] ON
INSERT [dbo].[Customers] ([Id], [Code]) VALUES (1, 'A1')
INSERT [dbo].[Customers] ([Id], [Code]) VALUES (2, 'B2')
SET IDENTITY_INSERT [dbo].[Customers] OFF
"),
    ((Kind::Table, "Table", SHOP, DBO, "Orders", PRE, None), "/****** Object:  Table [dbo].[Orders]    Script Date: 05/29/2010 02:10:37 ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TABLE [dbo].[Orders](
\t[Id] [int] NOT NULL,
\t[CustomerId] [int] NOT NULL,
\t[Qty] [int] NOT NULL
) ON [PRIMARY]
GO
"),
    ((Kind::TableData, "TableData", SHOP, DBO, "Orders", DATA, Some(3)), "INSERT [dbo].[Orders] ([Id], [CustomerId], [Qty]) VALUES (10, 1, 5)
INSERT [dbo].[Orders] ([Id], [CustomerId], [Qty]) VALUES (11, 2, 1)
INSERT [dbo].[Orders] ([Id], [CustomerId], [Qty]) VALUES (12, 2, 7)
"),
    ((Kind::Default, "Default", SHOP, None, "DF_Orders_Qty", POST, None), "/****** Object:  Default [DF_Orders_Qty]    Script Date: 05/29/2010 02:10:37 ******/
ALTER TABLE [dbo].[Orders] ADD  CONSTRAINT [DF_Orders_Qty]  DEFAULT ((1)) FOR [Qty]
GO
"),
    ((Kind::Constraint, "Check", SHOP, None, "CK_Orders_Qty", POST, None), "/****** Object:  Check [CK_Orders_Qty]    Script Date: 05/29/2010 02:10:37 ******/
ALTER TABLE [dbo].[Orders]  WITH CHECK ADD  CONSTRAINT [CK_Orders_Qty] CHECK  (([Qty]>(0)))
GO
ALTER TABLE [dbo].[Orders] CHECK CONSTRAINT [CK_Orders_Qty]
GO
"),
    ((Kind::ForeignKey, "ForeignKey", SHOP, None, "FK_Orders_Customers", POST, None), "/****** Object:  ForeignKey [FK_Orders_Customers]    Script Date: 05/29/2010 02:10:37 ******/
ALTER TABLE [dbo].[Orders]  WITH CHECK ADD  CONSTRAINT [FK_Orders_Customers] FOREIGN KEY([CustomerId])
REFERENCES [dbo].[Customers] ([Id])
GO
ALTER TABLE [dbo].[Orders] CHECK CONSTRAINT [FK_Orders_Customers]
GO
"),
];

/// Without descriptive headers (an SSMS option; sqlcmd users' scripts): objects open at their
/// `CREATE`, with the `SET ... ON` batches before it; names that need brackets; multi-row
/// `VALUES` and `GO` with a count.
const NO_HEADERS: &[(Want, &str)] = &[
    ((Kind::Preamble, "", None, None, "", PRE, None), "-- Shop, without headers\nUSE [Shop]\nGO\n"),
    ((Kind::Table, "Table", SHOP, DBO, "we]ird. näme 🦀", PRE, None), "SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TABLE [dbo].[we]]ird. näme 🦀](
\t[v] [int] NULL
) ON [PRIMARY]
GO
"),
    ((Kind::View, "View", SHOP, DBO, "Totals", PRE, None), "SET ANSI_NULLS ON\nGO\nCREATE OR ALTER VIEW dbo.Totals AS SELECT 1 AS one\nGO\n"),
    ((Kind::TableData, "TableData", SHOP, DBO, "we]ird. näme 🦀", DATA, Some(4)), "INSERT INTO [dbo].[we]]ird. näme 🦀] ([v]) VALUES (1), (2),
\t(3)
INSERT INTO [dbo].[we]]ird. näme 🦀] ([v]) VALUES (4)
go 2 -- twice
"),
    ((Kind::TableData, "TableData", SHOP, DBO, "Totals2", DATA, Some(1)), "INSERT INTO dbo.Totals2 VALUES (5)\nGO\n"),
    ((Kind::Index, "Index", SHOP, DBO, "IX weird", POST, None), "CREATE NONCLUSTERED INDEX [IX weird] ON [dbo].[we]]ird. näme 🦀] ([v])\nGO\n"),
];

#[derive(Clone, Copy, Debug)]
enum Enc {
    Utf16Le,
    Utf16Be,
    Utf16LeNoBom,
    Utf8,
    Utf8Bom,
}

const ENCODINGS: [Enc; 5] = [Enc::Utf16Le, Enc::Utf16Be, Enc::Utf16LeNoBom, Enc::Utf8, Enc::Utf8Bom];

fn bom(enc: Enc) -> &'static [u8] {
    match enc {
        Enc::Utf16Le => b"\xff\xfe",
        Enc::Utf16Be => b"\xfe\xff",
        Enc::Utf8Bom => b"\xef\xbb\xbf",
        Enc::Utf16LeNoBom | Enc::Utf8 => b"",
    }
}

/// `text` with SSMS's line ends, in `enc` (without a byte-order mark).
fn encode(text: &str, enc: Enc) -> Vec<u8> {
    let text = text.replace('\n', "\r\n");
    match enc {
        Enc::Utf16Le | Enc::Utf16LeNoBom => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        Enc::Utf16Be => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        Enc::Utf8 | Enc::Utf8Bom => text.into_bytes(),
    }
}

/// The script of `pieces` in `enc`, and each piece's byte range (the byte-order mark is the
/// preamble's).
fn script(pieces: &[(Want, &str)], enc: Enc) -> (Vec<u8>, Vec<std::ops::Range<u64>>) {
    let mut out = bom(enc).to_vec();
    let mut ranges = Vec::new();
    for (i, (_, text)) in pieces.iter().enumerate() {
        let start = if i == 0 { 0 } else { out.len() as u64 };
        out.extend(encode(text, enc));
        ranges.push(start..out.len() as u64);
    }
    (out, ranges)
}

/// Parse `data` fed in pieces of `sizes`, over and over.
fn parse(data: &[u8], sizes: &[usize]) -> Toc {
    let mut p: Box<dyn TocParser> = Box::new(TsqlScript::new(KEY));
    let (mut at, mut i) = (0, 0);
    while at < data.len() {
        let n = sizes[i % sizes.len()].clamp(1, data.len() - at);
        p.feed(&data[at..at + n]);
        (at, i) = (at + n, i + 1);
    }
    p.finish()
}

fn seen(toc: &Toc) -> Vec<Want> {
    let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
    let opt = |s: &Option<String>| s.as_deref().map(leak);
    toc.objects.iter().map(|o| (o.kind, leak(&o.tool_kind), opt(&o.database), opt(&o.schema), leak(&o.name), o.section, o.rows)).collect()
}

/// Every sample in every encoding: the same objects, each range exactly its piece's bytes (in the
/// script's own encoding), each digest the keyed hash of those bytes.
#[test]
fn every_object_is_exactly_its_batches_in_every_encoding() {
    for (sample, pieces) in [("2019", SSMS_2019), ("2008", SSMS_2008), ("no headers", NO_HEADERS)] {
        for enc in ENCODINGS {
            let (data, ranges) = script(pieces, enc);
            for sizes in [&[1 << 20][..], &[1], &[3, 7, 1, 4096]] {
                let toc = parse(&data, sizes);
                let what = format!("{sample} in {enc:?}, pieces of {sizes:?}");
                assert_eq!(seen(&toc), pieces.iter().map(|p| p.0).collect::<Vec<_>>(), "{what}");
                assert_eq!(toc.objects.iter().map(|o| o.range.clone()).collect::<Vec<_>>(), ranges, "{what}");
                assert!(toc.not_understood.is_empty(), "{what}: {:?}", toc.not_understood);
                assert_eq!(toc.len, data.len() as u64);
                for o in &toc.objects {
                    let mut keyed = blake3::Hasher::new_keyed(&KEY);
                    keyed.update(&data[o.range.start as usize..o.range.end as usize]);
                    assert_eq!(o.digest, *keyed.finalize().as_bytes(), "{what}: {}", o.name);
                }
            }
        }
    }
}

#[test]
fn a_table_cut_out_of_the_script_is_its_create_table_and_nothing_else() {
    let (data, _) = script(SSMS_2019, Enc::Utf16Le);
    let toc = parse(&data, &[4096]);
    let orders = toc.objects.iter().find(|o| o.kind == Kind::Table && o.name == "Orders").unwrap();
    let bytes = &data[orders.range.start as usize..orders.range.end as usize];
    let units: Vec<u16> = bytes.chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    let text = String::from_utf16(&units).unwrap();
    assert!(text.starts_with("/****** Object:  Table [dbo].[Orders]") && text.ends_with(") ON [PRIMARY]\r\nGO\r\n"), "{text}");
    assert_eq!(text.matches("CREATE TABLE").count(), 1);
}

/// Lines that would end a batch or open an object outside strings and comments, inside them.
#[test]
fn go_and_headers_inside_strings_comments_and_bodies_split_nothing() {
    let body = "CREATE PROCEDURE [dbo].[p] AS\nSELECT 'x\nGO\n', [a\nGO\n]\n/*\nGO\n*/\nINSERT [dbo].[T] VALUES (1)\n\
                /****** Object:  Table [dbo].[Fake]    Script Date: 12/7/2026 10:00:00 AM ******/\nSELECT 1 -- \nGO\n";
    let text = format!("USE [Shop]\nGO\n/****** Object:  StoredProcedure [dbo].[p]    Script Date: 12/7/2026 10:00:00 AM ******/\n{body}");
    for enc in ENCODINGS {
        let (data, _) = script(&[((Kind::Preamble, "", None, None, "", PRE, None), &text)], enc);
        let toc = parse(&data, &[5]);
        let kinds: Vec<(Kind, &str)> = toc.objects.iter().map(|o| (o.kind, o.name.as_str())).collect();
        assert_eq!(kinds, [(Kind::Preamble, ""), (Kind::Function, "p")], "{enc:?}");
        assert!(toc.not_understood.is_empty(), "{enc:?}");
    }
}

#[test]
fn a_script_cut_short_says_so_and_a_cut_row_is_not_counted() {
    let (data, ranges) = script(SSMS_2019, Enc::Utf16Le);
    let in_string = (ranges[10].start + ranges[10].end) / 2; // inside the value that holds a GO line
    for cut in [in_string, in_string + 1] {
        let toc = parse(&data[..cut as usize], &[333]);
        let last = toc.objects.last().unwrap();
        assert_eq!((last.kind, last.name.as_str(), last.rows), (Kind::TableData, "Customers", Some(1)), "cut at {cut}");
        assert_eq!(toc.not_understood, std::slice::from_ref(&last.range), "cut at {cut}");
    }
    // Cut after a batch's GO: whole objects, nothing not understood.
    let toc = parse(&data[..ranges[11].end as usize], &[333]);
    assert!(toc.not_understood.is_empty());
    // Cut in a batch, outside any string: its GO never came.
    let toc = parse(&data[..ranges[6].end as usize - 8], &[333]);
    assert_eq!(toc.not_understood.len(), 1);
}

#[test]
fn lines_longer_than_any_head_still_open_objects_and_count_rows() {
    let long = "ü".repeat(3 * toc::MAX_LINE_HEAD);
    let text = format!(
        "/****** Object:  Table [dbo].[t]    Script Date: 12/7/2026 10:00:00 AM ******/\nCREATE TABLE [dbo].[t] ([v] nvarchar(max))\nGO\n\
         -- {long}\nINSERT [dbo].[t] ([v]) VALUES (N'{long}')\nGO\nINSERT [dbo].[t] ([v]) VALUES (N'{long}'), (N'x')\nGO\n\
         INSERT [dbo].[{}] ([v]) VALUES (1)\nGO\n",
        "u".repeat(5000)
    );
    for enc in [Enc::Utf16Le, Enc::Utf8] {
        let (data, _) = script(&[((Kind::Preamble, "", None, None, "", PRE, None), &text)], enc);
        let toc = parse(&data, &[777_777]);
        let got: Vec<(Kind, Option<u64>)> = toc.objects.iter().map(|o| (o.kind, o.rows)).collect();
        // The preamble is the byte-order mark; a name longer than a line's head is read no
        // further: its rows go on in the table's.
        assert_eq!(got[got.len() - 2..], [(Kind::Table, None), (Kind::TableData, Some(4))], "{enc:?}");
        let preamble = toc.of_kind(Kind::Preamble).map(|o| o.range.clone()).next();
        assert_eq!(preamble.unwrap_or_default(), 0..bom(enc).len() as u64, "{enc:?}");
        assert!(toc.not_understood.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Pieces of any sizes give the same table of contents.
    #[test]
    fn pieces_of_any_size_give_the_same_toc(sizes in proptest::collection::vec(1usize..400, 1..16), enc in 0usize..5) {
        let (data, _) = script(SSMS_2019, ENCODINGS[enc]);
        prop_assert_eq!(parse(&data, &sizes), parse(&data, &[1 << 20]));
    }

    /// Any bytes, after any part of a script (odd lengths of UTF-16 and lone surrogates
    /// included): no panic, and the objects cover the stream.
    #[test]
    fn any_bytes_give_a_toc_that_covers_them(tail in proptest::collection::vec(any::<u8>(), 0..3000), cut in 0usize..6000,
                                             enc in 0usize..5, size in 1usize..64) {
        let (mut data, _) = script(SSMS_2019, ENCODINGS[enc]);
        data.truncate(cut.min(data.len()));
        data.extend_from_slice(&tail);
        let toc = parse(&data, &[size]);
        prop_assert_eq!(toc.len, data.len() as u64);
        let mut at = 0;
        for o in &toc.objects {
            prop_assert_eq!(o.range.start, at);
            at = o.range.end;
        }
        prop_assert_eq!(at, data.len() as u64);
    }
}
